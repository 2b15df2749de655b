// Processes and Fleet panes: the provider's expected processes joined with live heartbeats by God's status
// service (joinStatus), every second; machines less often (on EC2 each look is an API call).
import type { ExpectedProcess, Machine, Provider } from '../../core/providers/types.ts';
import type { FleetRedis } from '../../core/redis.ts';
import { joinStatus, type ProcessStatus, readHeartbeatView } from '../../core/status.ts';
import type { DashboardStore, ProcessRow } from '../store.ts';
import { every } from './poll.ts';

/** The gauge a role reports its tweet rate under (the feeder's count of matched tweets per second). */
const TWEET_RATE_GAUGES = ['tweets_per_s', 'matched_per_s', 'published_per_s'];

export function toRow(p: ProcessStatus, now: number): ProcessRow {
  const rate = TWEET_RATE_GAUGES.map((g) => p.gauges[g]).find((v) => v !== undefined);
  return {
    role: p.role,
    id: p.id,
    host: p.host,
    state: p.state,
    pid: p.pid ?? undefined,
    version: p.version ?? undefined,
    startedAt: p.started_at ? Date.parse(p.started_at) : undefined,
    cpu: p.cpu ?? undefined,
    rss: p.rss ?? undefined,
    clients: p.gauges.clients,
    tweetsPerS: p.role === 'feeder' ? rate : undefined,
    beatAt: p.heartbeat_age_s !== null ? now - p.heartbeat_age_s * 1000 : undefined,
    restarts: p.restarts ?? undefined,
    lastExit: p.last_exit ?? undefined,
    gauges: p.gauges,
  };
}

export async function feedStatus(
  store: DashboardStore,
  o: { fleetRedis: FleetRedis; provider: Provider; intervalMs?: number; fleetEveryMs?: number },
  signal: AbortSignal,
): Promise<void> {
  let expected: ExpectedProcess[] = [];
  let machines: Machine[] = [];
  let fleetAt = 0;
  const fleetEvery = o.fleetEveryMs ?? (o.provider.cheapListing ? 1000 : 10_000);
  let redisDown = false;
  await every(
    o.intervalMs ?? 1000,
    async () => {
      if (Date.now() - fleetAt >= fleetEvery) {
        [expected, machines] = await Promise.all([o.provider.expected(), o.provider.machines()]);
        fleetAt = Date.now();
        store.setMachines(machines);
      }
      let view: Awaited<ReturnType<typeof readHeartbeatView>> | undefined;
      try {
        view = await readHeartbeatView(o.fleetRedis);
        if (redisDown) store.view.setNotice('Redis is back');
        redisDown = false;
      } catch (err) {
        if (!redisDown)
          store.view.setNotice(`cannot read heartbeats from Redis: ${(err as Error).message}`, 'error');
        redisDown = true;
      }
      const now = Date.now();
      const { processes } = joinStatus(expected, view, now);
      store.setProcesses(processes.map((p) => toRow(p, now)));
    },
    signal,
    (err) => store.view.setNotice(`status: ${(err as Error).message}`, 'warn'),
  );
}
