// The checks of `assert` (once) and `wait` (polled until they hold or the step times out): status counts and
// releases, the keepers' alerts stream, protocol clients, the endpoint registry, the log archive.
import { durationMs } from '../../../kernel/units.ts';
import { AlertFieldsSchema, HEARTBEAT_INTERVAL_MS } from '../../../protocol/redis-contract.ts';
import { listEndpoints } from '../endpoints.ts';
import { Liveness, markChange, procKey, readBeats, type Verdict } from '../liveness.ts';
import type { FleetRedis } from '../redis.ts';
import { getStatus } from '../status.ts';
import { addrKey, connectClients, registryAddresses } from './clients.ts';
import { ArchiveReader, archiveUrl } from './archive.ts';
import type { PlayContext, TargetedProcess } from './context.ts';
import { describeMark, resolveMark, stepByName, takeMark } from './marks.ts';
import type { Conditions, Mark } from './schema.ts';

export interface CheckResult {
  check: string;
  ok: boolean;
  detail: string;
}

/** State a check keeps between polls of one `wait` (the step's mark, the archive reader). */
export type CheckMemo = Map<string, unknown>;

/** Let go of what the checks of one step opened. */
export function closeMemo(memo: CheckMemo): void {
  (memo.get('logs:reader') as ArchiveReader | undefined)?.close();
  memo.clear();
}

/** Where an alert window starts: an exclusive stream id bound (alert ids come from the Redis clock). */
async function alertsFrom(pc: PlayContext, since: Mark | string, memo: CheckMemo): Promise<string> {
  if (typeof since === 'object' || since === 'play' || since === 'step') {
    return `(${(await resolveMark(pc, since as Mark, memo)).alertId}`;
  }
  return String((await takeMark(await pc.redis())).ms - durationMs.parse(since));
}

function describeSince(since: Mark | string): string {
  return typeof since === 'object' || since === 'play' || since === 'step'
    ? `since ${describeMark(since as Mark)}`
    : `in the last ${since}`;
}

async function alertsSince(fr: FleetRedis, from: string, kinds?: string[]) {
  const entries = (await fr.redis.xrange(fr.keys.alerts, from, '+')) as Array<[string, string[]]>;
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

/**
 * `healthy`: each process is beating freshly, at the version asked, stable, and has beaten since the check first
 * ran (liveness.ts, mode alive): the leftover heartbeat of a process killed a moment ago does not count. The
 * first evaluation waits up to one beat interval (and a second) for the processes to beat after its mark.
 */
async function checkHealthy(
  pc: PlayContext,
  c: NonNullable<Conditions['healthy']>,
  memo: CheckMemo,
): Promise<CheckResult> {
  const fr = await pc.redis();
  const st = await getStatus({ provider: pc.provider, redis: fr });
  const mine = st.processes.filter((p) => p.expected && (!c.role || p.role === c.role));
  let live = memo.get('healthy_liveness') as Liveness | undefined;
  const settleUntil = live ? 0 : Date.now() + HEARTBEAT_INTERVAL_MS + 1000;
  if (!live) {
    live = new Liveness({
      version: c.version,
      since: await markChange(fr.redis, fr.keys, mine),
      mode: 'alive',
    });
    memo.set('healthy_liveness', live);
  }
  let verdicts: Map<string, Verdict>;
  for (;;) {
    const beats = await readBeats(fr.redis, fr.keys, mine);
    verdicts = new Map(mine.map((p) => [p.id, live!.judge(procKey(p), beats.get(procKey(p)))]));
    const waiting = [...verdicts.values()].some((v) => !v.ok && v.state === 'old');
    if (!waiting || Date.now() >= settleUntil) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  const up = mine.filter((p) => verdicts.get(p.id)!.ok);
  const what = `${c.role ?? 'all roles'}${c.version ? ` at ${c.version}` : ''}`;
  const bad = mine
    .filter((p) => !up.includes(p))
    .map((p) => {
      const v = verdicts.get(p.id)!;
      return `${p.id} ${v.ok ? 'up' : v.state === 'missing' ? p.state : `${v.state} (${v.why})`}`;
    });
  const detail = `${what}: ${up.length} up of ${mine.length} expected${bad.length ? `; not: ${bad.join(', ')}` : ''}`;
  let ok: boolean;
  if (c.count !== undefined) ok = up.length === c.count;
  else if (c.at_least !== undefined) ok = up.length >= c.at_least;
  else ok = mine.length > 0 && bad.length === 0;
  const want =
    c.count !== undefined ? ` (want ${c.count})` : c.at_least !== undefined ? ` (want ≥ ${c.at_least})` : '';
  return { check: 'healthy', ok, detail: detail + want };
}

/** Entries of the log stream with ids in (after, upTo]; ids only, a page at a time. */
async function streamIds(fr: FleetRedis, after: string | undefined, upTo: string): Promise<string[]> {
  const out: string[] = [];
  let from = after ? `(${after}` : '-';
  for (;;) {
    const page = (await fr.redis.xrange(fr.keys.logStream, from, upTo, 'COUNT', 10_000)) as Array<
      [string, string[]]
    >;
    for (const [id] of page) out.push(id);
    if (page.length < 10_000) return out;
    from = `(${page[page.length - 1]![0]}`;
  }
}

/**
 * Every line written between two marks is in the archive itself: the stream's ids in the range against the
 * entry ids of the stored objects. Not the consumer group's bookkeeping: a keeper that moved its group past
 * unread lines has "delivered" them, and they are still lost.
 */
async function checkLogsArchived(
  pc: PlayContext,
  la: NonNullable<Conditions['logs_archived']>,
  memo: CheckMemo,
): Promise<CheckResult> {
  const fr = await pc.redis();
  const until = await resolveMark(pc, la.until, memo);
  const since = la.since === 'stream' ? undefined : await resolveMark(pc, la.since, memo);
  const range = `between ${describeMark(la.since)} and ${describeMark(la.until)}`;
  // the stream ids only change by trimming: read them once per step
  let ids = memo.get('logs:ids') as string[] | undefined;
  if (!ids) {
    ids = until.logId === '0-0' ? [] : await streamIds(fr, since?.logId, until.logId);
    memo.set('logs:ids', ids);
  }
  if (ids.length === 0) {
    return {
      check: 'logs_archived',
      ok: la.allow_empty,
      detail: `no log line was written ${range}${la.allow_empty ? ' (allow_empty)' : ': nothing to prove (allow_empty: true accepts that)'}`,
    };
  }
  let reader = memo.get('logs:reader') as ArchiveReader | undefined;
  if (!reader) {
    reader = new ArchiveReader(archiveUrl(pc, la.archive, 'logs_archived', 'archive'), pc.env);
    memo.set('logs:reader', reader);
  }
  // an object is keyed by the hour of its first line, which may be a batch before ours: an hour of margin
  const archived = await reader.entryIds(Number(ids[0]!.split('-')[0]) - 3600_000);
  const missing = ids.filter((id) => !archived.has(id));
  const span = `${ids[0]} … ${ids.at(-1)}`;
  return {
    check: 'logs_archived',
    ok: missing.length === 0,
    detail: missing.length
      ? `${ids.length - missing.length} of ${ids.length} log line(s) ${range} are in ${reader.url}; not archived: ${missing
          .slice(0, 5)
          .join(', ')}${missing.length > 5 ? ', …' : ''}`
      : `every log line ${range} is in ${reader.url}: ${ids.length} of ${ids.length} (${span})`,
  };
}

/** Each process the named `run` steps were pointed at beats again as a new process (new pid, later start). */
async function checkReplaced(pc: PlayContext, r: NonNullable<Conditions['replaced']>): Promise<CheckResult> {
  const before = new Map<string, TargetedProcess>();
  for (const name of r.steps) {
    const s = stepByName(pc.steps, pc.current ?? Number.POSITIVE_INFINITY, name);
    const procs = s && pc.targeted.get(s.index);
    if (!procs) throw new Error(`step "${name}" did not run, so it names no process`);
    for (const p of procs) before.set(p.id, p);
  }
  const st = await getStatus({ provider: pc.provider, redis: await pc.redis() });
  const now = new Map(st.processes.map((p) => [p.id, p]));
  const parts: string[] = [];
  let ok = before.size > 0;
  for (const old of before.values()) {
    const p = now.get(old.id);
    const was = old.pid === null ? 'no heartbeat' : `pid ${old.pid}`;
    if (p?.state !== 'up' || p.pid === null) {
      ok = false;
      parts.push(`${old.id}: ${p?.state ?? 'gone'} (was ${was})`);
    } else if (
      p.pid === old.pid ||
      // both start times come from the process's own host: one clock
      (old.started_at !== null && !(Date.parse(p.started_at ?? '') > Date.parse(old.started_at)))
    ) {
      ok = false;
      parts.push(`${old.id}: still the old process's heartbeat (pid ${p.pid})`);
    } else parts.push(`${old.id}: ${was} → pid ${p.pid}`);
  }
  return { check: 'replaced', ok, detail: parts.join('; ') || 'the steps named no process' };
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
  if (c.healthy) await guard('healthy', () => checkHealthy(pc, c.healthy!, memo));
  if (c.no_alerts) {
    await guard('no_alerts', async () => {
      const o = c.no_alerts === true ? { since: 'play' as const, kinds: undefined } : c.no_alerts!;
      const got = await alertsSince(await pc.redis(), await alertsFrom(pc, o.since, memo), o.kinds);
      return {
        check: 'no_alerts',
        ok: got.length === 0,
        detail: got.length
          ? `${got.length} alert(s): ${got
              .slice(0, 3)
              .map((a) => `${a.kind}: ${a.subject}`)
              .join('; ')}`
          : `no alert ${describeSince(o.since)}`,
      };
    });
  }
  if (c.alerts) {
    const a = c.alerts;
    await guard('alerts', async () => {
      const got = await alertsSince(await pc.redis(), await alertsFrom(pc, a.since, memo), a.kinds);
      return {
        check: 'alerts',
        ok: got.length >= a.at_least,
        detail: `${got.length} alert(s)${a.kinds ? ` of ${a.kinds.join('/')}` : ''} ${describeSince(a.since)} (want ≥ ${a.at_least})${
          got.length ? `: ${[...new Set(got.map((x) => x.kind))].join(', ')}` : ''
        }`,
      };
    });
  }
  if (c.client) {
    const cl = c.client;
    await guard('client', async () => {
      const kept0 = cl.keep ? pc.clients.get(cl.keep) : undefined;
      if (kept0 && cl.fresh && !memo.has('client:fresh')) {
        // an earlier step's group: close it and prove new connections (once per step: a wait polls)
        for (const k of kept0) k.client.close();
        pc.clients.delete(cl.keep!);
      } else if (kept0) {
        // kept by an earlier poll of this step or an earlier step: passes only if they are all still served
        const ready = kept0.filter((k) => k.client.ready).length;
        return {
          check: 'client',
          ok: ready === kept0.length,
          detail: `group ${cl.keep} (kept earlier): ${ready}/${kept0.length} connected${
            ready === kept0.length ? '' : '; fresh: true connects new clients instead'
          }`,
        };
      }
      const source = cl.source === 'registry' ? await registryAddresses(await pc.redis()) : cl.source;
      const kept = await connectClients(cl.count, source, Math.max(1000, timeoutMs));
      const on = [...new Set(kept.map((k) => k.first))].join(', ');
      if (cl.keep) {
        pc.clients.set(cl.keep, kept);
        memo.set('client:fresh', true);
      } else for (const k of kept) k.client.close();
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
  if (c.logs_archived) await guard('logs_archived', () => checkLogsArchived(pc, c.logs_archived!, memo));
  if (c.replaced) await guard('replaced', () => checkReplaced(pc, c.replaced!));
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
  if (c.logs_archived)
    out.push(
      `every log line between ${describeMark(c.logs_archived.since)} and ${describeMark(c.logs_archived.until)} in the archive`,
    );
  if (c.replaced) out.push(`the processes of ${c.replaced.steps.map((n) => `"${n}"`).join(', ')} replaced`);
  return out;
}
