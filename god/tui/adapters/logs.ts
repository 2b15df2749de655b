// Logs pane feed: recent history, then the live tail, both through God's log service (god/core/logs.ts).
import { lastLogId, readLogs, tailLogs } from '../../core/logs.ts';
import type { FleetRedis } from '../../core/redis.ts';
import { fromRecord } from '../log-line.ts';
import type { DashboardStore } from '../store.ts';

export async function feedLogs(
  store: DashboardStore,
  fleetRedis: FleetRedis,
  signal: AbortSignal,
  o: { history?: number } = {},
): Promise<void> {
  // the id first, so nothing written while the history loads falls between history and tail
  const after = await lastLogId(fleetRedis);
  const history = await readLogs(fleetRedis, {
    limit: o.history ?? 500,
    until: after === '0-0' ? undefined : after,
  });
  for (const r of history) store.pushLine(fromRecord(r));
  await tailLogs(fleetRedis, {}, after, (r) => store.pushLine(fromRecord(r)), signal);
}
