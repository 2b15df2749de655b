// The checks of `assert` (once) and `wait` (polled until they hold or the step times out): status counts and
// releases, the keepers' alerts stream, protocol clients, the endpoint registry, the log archive.
import { durationMs } from '../../../kernel/units.ts';
import { AlertFieldsSchema, KEEPER_GROUP } from '../../../protocol/redis-contract.ts';
import { listEndpoints } from '../endpoints.ts';
import type { FleetRedis } from '../redis.ts';
import { getStatus } from '../status.ts';
import { addrKey, connectClients, registryAddresses } from './clients.ts';
import type { PlayContext } from './context.ts';
import type { Conditions } from './schema.ts';

export interface CheckResult {
  check: string;
  ok: boolean;
  detail: string;
}

/** State a check keeps between polls of one `wait` (the log stream mark of logs_archived). */
export type CheckMemo = Map<string, unknown>;

function sinceMs(pc: PlayContext, since: string): number {
  return since === 'play' ? pc.startedAt : Date.now() - durationMs.parse(since);
}

async function alertsSince(fr: FleetRedis, fromMs: number, kinds?: string[]) {
  const entries = (await fr.redis.xrange(fr.keys.alerts, String(fromMs), '+')) as Array<[string, string[]]>;
  const out: Array<{ kind: string; subject: string }> = [];
  for (const [, flat] of entries) {
    const obj: Record<string, string> = {};
    for (let i = 0; i + 1 < flat.length; i += 2) obj[flat[i]!] = flat[i + 1]!;
    const a = AlertFieldsSchema.safeParse(obj);
    const kind = a.success ? a.data.kind : (obj.kind ?? 'unknown');
    if (!kinds || kinds.includes(kind)) out.push({ kind, subject: obj.subject ?? '' });
  }
  return out;
}

/** Stream ids compare as (ms, seq). */
function idBefore(a: string, b: string): boolean {
  const [am, as] = a.split('-').map(Number) as [number, number];
  const [bm, bs] = b.split('-').map(Number) as [number, number];
  return am < bm || (am === bm && (as ?? 0) < (bs ?? 0));
}

async function checkHealthy(pc: PlayContext, c: NonNullable<Conditions['healthy']>): Promise<CheckResult> {
  const st = await getStatus({ provider: pc.provider, redis: await pc.redis() });
  const mine = st.processes.filter((p) => p.expected && (!c.role || p.role === c.role));
  const up = mine.filter((p) => p.state === 'up' && (!c.version || p.version === c.version));
  const what = `${c.role ?? 'all roles'}${c.version ? ` at ${c.version}` : ''}`;
  const bad = mine
    .filter((p) => !up.includes(p))
    .map(
      (p) =>
        `${p.id} ${p.state}${c.version && p.version && p.version !== c.version ? ` (version ${p.version})` : ''}`,
    );
  const detail = `${what}: ${up.length} up of ${mine.length} expected${bad.length ? `; not: ${bad.join(', ')}` : ''}`;
  let ok: boolean;
  if (c.count !== undefined) ok = up.length === c.count;
  else if (c.at_least !== undefined) ok = up.length >= c.at_least;
  else ok = mine.length > 0 && bad.length === 0;
  const want =
    c.count !== undefined ? ` (want ${c.count})` : c.at_least !== undefined ? ` (want ≥ ${c.at_least})` : '';
  return { check: 'healthy', ok, detail: detail + want };
}

async function checkLogsArchived(pc: PlayContext, memo: CheckMemo): Promise<CheckResult> {
  const fr = await pc.redis();
  let mark = memo.get('logs_mark') as string | undefined;
  if (mark === undefined) {
    const last = (await fr.redis.xrevrange(fr.keys.logStream, '+', '-', 'COUNT', 1)) as Array<
      [string, string[]]
    >;
    mark = last[0]?.[0] ?? '';
    memo.set('logs_mark', mark);
  }
  if (!mark) return { check: 'logs_archived', ok: true, detail: 'the log stream is empty' };
  let groups: unknown[] = [];
  try {
    groups = (await fr.redis.xinfo('GROUPS', fr.keys.logStream)) as unknown[];
  } catch {
    // no stream yet
  }
  const g = groups
    .map((row) => {
      const flat = row as unknown[];
      const o: Record<string, unknown> = {};
      for (let i = 0; i + 1 < flat.length; i += 2) o[String(flat[i])] = flat[i + 1];
      return o;
    })
    .find((o) => o.name === KEEPER_GROUP);
  if (!g) return { check: 'logs_archived', ok: false, detail: 'no keeper reads the log stream yet' };
  const delivered = String(g['last-delivered-id'] ?? '0-0');
  if (idBefore(delivered, mark)) {
    return {
      check: 'logs_archived',
      ok: false,
      detail: `keepers have read up to ${delivered}, not yet ${mark}`,
    };
  }
  const pending = (await fr.redis.xpending(fr.keys.logStream, KEEPER_GROUP, '-', mark, 1)) as unknown[];
  if (pending.length) {
    return {
      check: 'logs_archived',
      ok: false,
      detail: `lines up to ${mark} are read but not all archived yet (pending)`,
    };
  }
  return { check: 'logs_archived', ok: true, detail: `every log line up to ${mark} is archived` };
}

/** Evaluate every check of `c` once. `timeoutMs` bounds the client connections. */
export async function evaluate(
  pc: PlayContext,
  c: Conditions,
  memo: CheckMemo,
  timeoutMs: number,
): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  const guard = async (check: string, fn: () => Promise<CheckResult>) => {
    try {
      out.push(await fn());
    } catch (err) {
      out.push({ check, ok: false, detail: (err as Error).message });
    }
  };
  if (c.healthy) await guard('healthy', () => checkHealthy(pc, c.healthy!));
  if (c.no_alerts) {
    await guard('no_alerts', async () => {
      const o = c.no_alerts === true ? { since: 'play', kinds: undefined } : c.no_alerts!;
      const got = await alertsSince(await pc.redis(), sinceMs(pc, o.since), o.kinds);
      return {
        check: 'no_alerts',
        ok: got.length === 0,
        detail: got.length
          ? `${got.length} alert(s): ${got
              .slice(0, 3)
              .map((a) => `${a.kind}: ${a.subject}`)
              .join('; ')}`
          : `no alert since ${o.since === 'play' ? 'the play started' : `${o.since} ago`}`,
      };
    });
  }
  if (c.alerts) {
    const a = c.alerts;
    await guard('alerts', async () => {
      const got = await alertsSince(await pc.redis(), sinceMs(pc, a.since), a.kinds);
      return {
        check: 'alerts',
        ok: got.length >= a.at_least,
        detail: `${got.length} alert(s)${a.kinds ? ` of ${a.kinds.join('/')}` : ''} (want ≥ ${a.at_least})${
          got.length ? `: ${[...new Set(got.map((x) => x.kind))].join(', ')}` : ''
        }`,
      };
    });
  }
  if (c.client) {
    const cl = c.client;
    await guard('client', async () => {
      if (cl.keep && pc.clients.has(cl.keep)) {
        return { check: 'client', ok: true, detail: `group ${cl.keep} is already connected` };
      }
      const source = cl.source === 'registry' ? await registryAddresses(await pc.redis()) : cl.source;
      const kept = await connectClients(cl.count, source, Math.max(1000, timeoutMs));
      const on = [...new Set(kept.map((k) => k.first))].join(', ');
      if (cl.keep) pc.clients.set(cl.keep, kept);
      else for (const k of kept) k.client.close();
      return {
        check: 'client',
        ok: true,
        detail: `${cl.count} client(s) got set_movies from ${on}${cl.keep ? `; kept as ${cl.keep}` : ''}`,
      };
    });
  }
  if (c.clients) {
    const cs = c.clients;
    await guard('clients', async () => {
      const g = pc.clients.get(cs.group);
      if (!g)
        throw new Error(
          `no client group ${cs.group}: an earlier step must keep one (client: {keep: ${cs.group}})`,
        );
      const ready = g.filter((k) => k.client.ready).length;
      const moved = g.filter((k) => k.client.ready && addrKey(k.client.endpoint) !== k.first).length;
      const wantReady = cs.connected === 'all' ? g.length : cs.connected;
      const ok = ready >= wantReady && (cs.moved_at_least === undefined || moved >= cs.moved_at_least);
      const on = new Map<string, number>();
      for (const k of g)
        if (k.client.ready) on.set(addrKey(k.client.endpoint), (on.get(addrKey(k.client.endpoint)) ?? 0) + 1);
      return {
        check: 'clients',
        ok,
        detail: `${cs.group}: ${ready}/${g.length} connected, ${moved} moved${
          cs.moved_at_least !== undefined ? ` (want ≥ ${cs.moved_at_least})` : ''
        }; on ${[...on].map(([a, n]) => `${a}×${n}`).join(', ') || 'nothing'}`,
      };
    });
  }
  if (c.endpoints) {
    const e = c.endpoints;
    await guard('endpoints', async () => {
      const rep = await listEndpoints(await pc.redis());
      const healthy = rep.endpoints.filter((x) => x.healthy);
      const busy = healthy.filter((x) => x.clients > 0);
      const ok =
        (e.healthy === undefined || healthy.length === e.healthy) &&
        (e.at_least === undefined || healthy.length >= e.at_least) &&
        (e.busy_at_least === undefined || busy.length >= e.busy_at_least);
      return {
        check: 'endpoints',
        ok,
        detail: `${healthy.length} healthy endpoint(s), ${busy.length} with clients: ${healthy
          .map((x) => `${x.id}×${x.clients}`)
          .join(', ')}`,
      };
    });
  }
  if (c.logs_archived) await guard('logs_archived', () => checkLogsArchived(pc, memo));
  return out;
}

export function describeConditions(c: Conditions): string[] {
  const out: string[] = [];
  if (c.healthy) {
    const h = c.healthy;
    out.push(
      `${h.count ?? (h.at_least !== undefined ? `≥ ${h.at_least}` : 'every')} ${h.role ?? 'process'}${
        h.version ? ` at ${h.version}` : ''
      } beating`,
    );
  }
  if (c.no_alerts) out.push('no alerts');
  if (c.alerts)
    out.push(`≥ ${c.alerts.at_least} alert(s)${c.alerts.kinds ? ` (${c.alerts.kinds.join('/')})` : ''}`);
  if (c.client)
    out.push(
      `${c.client.count} protocol client(s) get set_movies${c.client.keep ? ` (kept as ${c.client.keep})` : ''}`,
    );
  if (c.clients)
    out.push(
      `client group ${c.clients.group} connected${c.clients.moved_at_least !== undefined ? `, ≥ ${c.clients.moved_at_least} moved` : ''}`,
    );
  if (c.endpoints) out.push(`endpoint registry ${JSON.stringify(c.endpoints)}`);
  if (c.logs_archived) out.push('every log line archived');
  return out;
}
