// Alerts pane feed: the keeper's alerts stream (silence, recovered, exception, digest): recent history, then
// new entries as they come (XREAD BLOCK on its own connection).
import { AlertFieldsSchema, type AlertFields } from '../../../protocol/redis-contract.ts';
import type { FleetRedis } from '../../core/redis.ts';
import type { AlertRow, DashboardStore } from '../store.ts';
import { sleep } from '../../../kernel/sleep.ts';

type Entry = [string, string[]];

const LEVEL: Record<AlertFields['kind'], AlertRow['level']> = {
  silence: 'error',
  exception: 'error',
  digest: 'warn',
  recovered: 'info',
  archive_down: 'error',
  archive_up: 'info',
};

export function toAlert(id: string, flat: string[]): Omit<AlertRow, 'key'> & { key: string } {
  const obj: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) obj[flat[i]!] = flat[i + 1]!;
  const r = AlertFieldsSchema.safeParse(obj);
  const ms = Number(id.slice(0, id.indexOf('-')));
  if (!r.success) {
    // show it anyway: an alert we cannot parse is still an alert
    return {
      key: id,
      at: ms,
      kind: obj.kind ?? 'alert',
      level: 'warn',
      message: obj.text ?? obj.subject ?? flat.join(' '),
    };
  }
  const a = r.data;
  const at = Date.parse(a.at);
  return {
    key: id,
    at: Number.isFinite(at) ? at : ms,
    kind: a.kind,
    level: LEVEL[a.kind],
    message: `${a.subject}${a.text && a.text !== a.subject ? ` — ${a.text.replace(/\s+/g, ' ')}` : ''}`,
    source: a.keeper,
  };
}

export async function feedAlerts(
  store: DashboardStore,
  fleetRedis: FleetRedis,
  signal: AbortSignal,
  o: { history?: number } = {},
): Promise<void> {
  const history = (await fleetRedis.redis.xrevrange(
    fleetRedis.keys.alerts,
    '+',
    '-',
    'COUNT',
    o.history ?? 50,
  )) as Entry[];
  for (const [id, flat] of history.reverse()) store.pushAlert(toAlert(id, flat));
  let last = history.length ? history[history.length - 1]![0] : '$';
  const conn = fleetRedis.duplicate('tui-alerts');
  const onAbort = () => conn.disconnect();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    while (!signal.aborted) {
      let res: Array<[string, Entry[]]> | null;
      try {
        res = (await conn.xread(
          'COUNT',
          100,
          'BLOCK',
          1000,
          'STREAMS',
          fleetRedis.keys.alerts,
          last,
        )) as typeof res;
      } catch {
        if (!signal.aborted) await sleep(250, signal);
        continue;
      }
      for (const [, entries] of res ?? []) {
        for (const [id, flat] of entries) {
          last = id;
          store.pushAlert(toAlert(id, flat));
        }
      }
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
    conn.disconnect();
  }
}
