// `provision: {role, count, wait}`: converge a role to a count (`god up ROLE -n COUNT`), then wait for its
// heartbeats.
import { z } from 'zod';
import { type Role, RoleSchema } from '../../../../protocol/redis-contract.ts';
import { markChange } from '../../liveness.ts';
import { upOp } from '../../operations.ts';
import { waitHealthy } from '../../status.ts';
import type { PlayContext } from '../context.ts';
import { count } from '../fields.ts';
import { fleetRunning, isUp, liveStatus, waitOpts } from './fleet.ts';
import { defineKind } from './kind.ts';

export const ProvisionSchema = z
  .object({
    role: RoleSchema,
    count,
    /** wait for the role's heartbeats after converging (default true) */
    wait: z.boolean().default(true),
  })
  .strict();

const numOf = (id: string) => Number(/-(\d+)$/.exec(id)?.[1] ?? Number.NaN);

async function planProvision(pc: PlayContext, role: Role, want: number): Promise<string[]> {
  const changes: string[] = [];
  const live = await liveStatus(pc);
  const provider = pc.provider;
  const have = (await provider.expected()).filter((p) => p.role === role);
  // ssh, ec2: the count is of hosts / instances, each running roles.<role>.processes of the role
  const hosts = [...new Set(have.map((p) => p.host))];
  if (provider.listsStoppedProcesses) {
    // each host listed with the role runs it; the first `want` of them should run it
    if (want > hosts.length) changes.push(`cannot: only ${hosts.length} host(s) list ${role}`);
    for (const p of have) {
      const i = hosts.indexOf(p.host);
      if (i < want && !isUp(live, p.id)) changes.push(`start ${p.id} on ${p.host}`);
      if (i >= want && isUp(live, p.id)) changes.push(`stop ${p.id} on ${p.host}`);
    }
    return changes;
  }
  if (provider.ownServices && !(await fleetRunning(pc))) changes.push(provider.ownServices.start);
  if (provider.machinePerProcess) {
    if (hosts.length < want) changes.push(`create ${want - hosts.length} ${role} instance(s)`);
    if (hosts.length > want) changes.push(`terminate ${hosts.length - want} ${role} instance(s)`);
    return changes;
  }
  const nums = have.map((p) => numOf(p.id));
  for (let n = 1, added = 0; added < want - have.length; n++) {
    if (!nums.includes(n)) {
      changes.push(`start ${role}-${n}`);
      added++;
    }
  }
  const extra = [...have].sort((a, b) => numOf(a.id) - numOf(b.id)).slice(want);
  for (const p of extra) changes.push(`stop ${p.id}`);
  return changes;
}

export const provision = defineKind({
  kind: 'provision',
  args: ProvisionSchema,
  hint: 'provision takes role (feeder, endpoint, keeper), count and wait, e.g. provision: {role: endpoint, count: 2}.',
  example: { role: 'endpoint', count: 2 },
  defaultName: (a) => `provision ${a.role} → ${a.count}`,
  timeout: '120s',
  needsFleet: false,
  plan: (pc, s) => planProvision(pc, s.args.role, s.args.count),
  async run(pc, s, timeoutMs) {
    const changes = await planProvision(pc, s.args.role, s.args.count);
    // an inventory keeps listing the hosts a smaller count stopped: wait only for the ones kept
    const inventory = !!pc.provider.listsStoppedProcesses;
    const r = await upOp({
      provider: pc.provider,
      config: pc.config,
      role: s.args.role,
      count: s.args.count,
      wait: inventory ? undefined : waitOpts(pc, timeoutMs, s.args.wait),
      events: pc.events,
    });
    if (inventory && s.args.wait) {
      const kept = (await pc.provider.expected())
        .filter((p) => p.role === s.args.role)
        .slice(0, s.args.count);
      const fleetRedis = await pc.redis();
      // each kept process must beat after this mark: a dead process's leftover heartbeat does not count
      await waitHealthy(fleetRedis, kept, {
        timeoutMs,
        signal: pc.signal,
        since: await markChange(fleetRedis.redis, fleetRedis.keys, kept),
        mode: 'alive',
      });
      r.healthy = true;
    }
    return {
      changed: changes.length > 0,
      changes,
      detail: `${r.processes.filter((p) => p.role === s.args.role).length} ${s.args.role} process(es)${r.healthy ? ', all beating' : ''}`,
    };
  },
});
