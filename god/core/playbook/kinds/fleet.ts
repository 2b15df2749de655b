// What several step kinds ask of the fleet: the processes joined with their heartbeats, which processes a
// step picks, how long it waits for them.
import type { Role } from '../../../../protocol/redis-contract.ts';
import type { WaitOptions } from '../../operations.ts';
import { isRemoteProvider, type ExpectedProcess, type RemoteProvider } from '../../providers/types.ts';
import { getStatus, type ProcessStatus } from '../../status.ts';
import type { PlayContext } from '../context.ts';

export function waitOpts(pc: PlayContext, timeoutMs: number, wait: boolean): WaitOptions | undefined {
  return wait ? { redis: () => pc.redis(), timeoutMs, signal: pc.signal } : undefined;
}

/** Every process the provider expects, joined with heartbeats when Redis is reachable. */
export async function liveStatus(pc: PlayContext): Promise<Map<string, ProcessStatus> | undefined> {
  const fleetRedis = await pc.tryRedis();
  if (!fleetRedis) return undefined;
  const st = await getStatus({ provider: pc.provider, redis: fleetRedis });
  return new Map(st.processes.map((p) => [p.id, p]));
}

export const isUp = (live: Map<string, ProcessStatus> | undefined, id: string) =>
  live?.get(id)?.state === 'up';

/** Whether the fleet as a whole runs (a provider that cannot be stopped as a whole always does). */
export async function fleetRunning(pc: PlayContext): Promise<boolean> {
  return pc.provider.isRunning ? pc.provider.isRunning() : true;
}

/** The provider's SSH side when its hosts are reached over SSH, else undefined (the fleet is this machine). */
export function remote(pc: PlayContext): RemoteProvider | undefined {
  return isRemoteProvider(pc.provider) ? pc.provider : undefined;
}

/** Whether a step's role/ids pick the process. */
export const select = (p: ExpectedProcess, t: { role?: Role; ids?: string[] }) =>
  (!t.role || p.role === t.role) && (!t.ids || t.ids.includes(p.id));
