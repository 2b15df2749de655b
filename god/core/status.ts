// `god status`: every process the fleet should have (the provider's expected list) joined with the live
// heartbeats in Redis; missing, stale and unexpected processes are flagged. The TUI's Processes pane reads it.
import { z } from 'zod';
import { readHeartbeats } from '../../protocol/heartbeats.ts';
import { type Heartbeat, RoleSchema } from '../../protocol/redis-contract.ts';
import { UserError } from '../../kernel/errors.ts';
import { redactUrl } from '../../kernel/redact.ts';
import type { EventSink } from './events.ts';
import { readReadyz } from './readyz.ts';
import type { AdminToken } from './secrets/admin-token.ts';
import { type ChangeMark, Liveness, procKey, readBeats, STALE_AFTER_MS, beatAgeMs } from './liveness.ts';
import type { FleetRedis } from './redis.ts';
import { type ExpectedProcess, LastExitSchema, MachineSchema, type Provider } from './providers/types.ts';
import { ProviderKindSchema } from '../../kernel/providers.ts';
import { ProcessStateSchema } from './process-states.ts';

export { STALE_AFTER_MS } from './liveness.ts';

export const ProcessStatusSchema = z.object({
  role: RoleSchema,
  id: z.string(),
  host: z.string(),
  /** the provider expects it (false: alive but not part of the fleet, e.g. a leftover) */
  expected: z.boolean(),
  state: ProcessStateSchema,
  pid: z.number().int().nullable(),
  version: z.string().nullable(),
  uptime_s: z.number().nullable(),
  started_at: z.string().nullable(),
  /** percent of one core */
  cpu: z.number().nullable(),
  /** bytes */
  rss: z.number().nullable(),
  gauges: z.record(z.string(), z.number()),
  heartbeat_age_s: z.number().nullable(),
  /** its admin listener (`host:port`, from the heartbeat), null when it runs none */
  admin: z.string().nullable().default(null),
  /** its /readyz when God could reach it (null: not reachable, the heartbeat alone decides) */
  ready: z
    .object({ ready: z.boolean(), why: z.array(z.string()) })
    .nullable()
    .default(null),
  /** why its /readyz was not read (unreachable, token refused): the heartbeat alone decides; null otherwise */
  ready_error: z.string().nullable().default(null),
  /** restarts its supervisor made (pm2's ↺); null when the provider does not know */
  restarts: z.number().int().nullable(),
  /** how it last ended (exit code or signal, and when); null: never exited, or not known */
  last_exit: LastExitSchema.nullable(),
});
export type ProcessStatus = z.infer<typeof ProcessStatusSchema>;

/** a machine as `status --json` shows it: the providers' one Machine schema */
export const MachineStatusSchema = MachineSchema;

export const StatusReportSchema = z.object({
  at: z.string(),
  provider: ProviderKindSchema,
  redis: z.object({ url: z.string().nullable(), ok: z.boolean(), error: z.string().optional() }),
  machines: z.array(MachineStatusSchema),
  processes: z.array(ProcessStatusSchema),
  summary: z.object({
    expected: z.number().int(),
    up: z.number().int(),
    stale: z.number().int(),
    missing: z.number().int(),
    unexpected: z.number().int(),
    /** up by heartbeat, but its /readyz says not ready */
    not_ready: z.number().int().default(0),
  }),
  /** every expected process is up and nothing is stale */
  ok: z.boolean(),
});
export type StatusReport = z.infer<typeof StatusReportSchema>;

export interface HeartbeatView {
  live: Heartbeat[];
  /** index members whose heartbeat key expired: role:id → last beat (ms) */
  gone: Map<string, number>;
  /** role:id → ms since its key was written, on Redis's clock (see beatAgeMs); else aged by `at` */
  ages?: Map<string, number>;
}

export async function readHeartbeatView(fr: FleetRedis): Promise<HeartbeatView> {
  const live = await readHeartbeats(fr.redis, fr.keys);
  const pttls = live.length
    ? ((await fr.redis.pipeline(live.map((h) => ['pttl', fr.keys.heartbeat(h.role, h.id)])).exec()) ?? [])
    : [];
  const now = Date.now();
  const ages = new Map<string, number>();
  live.forEach((h, i) => {
    const [err, ttl] = pttls[i] ?? [];
    if (!err) ages.set(procKey(h), beatAgeMs(h, Number(ttl), now));
  });
  const liveKeys = new Set(live.map((h) => procKey(h)));
  const withScores = await fr.redis.zrange(fr.keys.heartbeatIndex, 0, '-1', 'WITHSCORES');
  const gone = new Map<string, number>();
  for (let i = 0; i + 1 < withScores.length; i += 2) {
    if (!liveKeys.has(withScores[i]!)) gone.set(withScores[i]!, Number(withScores[i + 1]));
  }
  return { live, gone, ages };
}

const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d;

/** Join what should run with what beats. Pure: tests and the TUI call it with their own inputs. */
export function joinStatus(expected: ExpectedProcess[], view: HeartbeatView | undefined, now = Date.now()) {
  const live = new Map((view?.live ?? []).map((h) => [`${h.role}:${h.id}`, h]));
  const out: ProcessStatus[] = [];
  const supervision = (e?: ExpectedProcess) => ({
    restarts: e?.restarts ?? null,
    last_exit: e?.last_exit ?? null,
  });
  const fromBeat = (h: Heartbeat, exp: boolean, e?: ExpectedProcess): ProcessStatus => {
    // on Redis's clock when the view has it: a host's clock ahead or behind God's does not make it stale
    const age = view?.ages?.get(procKey(h)) ?? now - Date.parse(h.at);
    return {
      role: h.role,
      id: h.id,
      host: h.host,
      expected: exp,
      state: !exp ? 'unexpected' : age > STALE_AFTER_MS ? 'stale' : 'up',
      pid: h.pid,
      version: h.version,
      uptime_s: Math.max(0, Math.round((now - Date.parse(h.started_at)) / 1000)),
      started_at: h.started_at,
      cpu: h.cpu,
      rss: h.rss,
      gauges: h.gauges,
      heartbeat_age_s: round(Math.max(0, age) / 1000),
      admin: h.admin ?? null,
      ready: null,
      ready_error: null,
      ...supervision(e),
    };
  };
  for (const e of expected) {
    const key = `${e.role}:${e.id}`;
    const h = live.get(key);
    live.delete(key);
    if (h) {
      out.push(fromBeat(h, true, e));
      continue;
    }
    const last = view?.gone.get(key);
    out.push({
      role: e.role,
      id: e.id,
      host: e.host,
      expected: true,
      // it did beat, then stopped (its key expired): stale; never seen: missing
      state: last !== undefined ? 'stale' : 'missing',
      pid: null,
      version: null,
      uptime_s: null,
      started_at: null,
      cpu: null,
      rss: null,
      gauges: {},
      heartbeat_age_s: last !== undefined ? round((now - last) / 1000) : null,
      admin: null,
      ready: null,
      ready_error: null,
      ...supervision(e),
    });
  }
  for (const h of live.values()) out.push(fromBeat(h, false));
  const count = (s: ProcessStatus['state']) => out.filter((p) => p.state === s).length;
  return {
    processes: out,
    summary: {
      expected: expected.length,
      up: count('up'),
      stale: count('stale'),
      missing: count('missing'),
      unexpected: count('unexpected'),
      not_ready: 0,
    },
  };
}

/**
 * Fill in each live process's /readyz where its admin listener answers (in parallel, 1 s each), with the fleet's
 * admin token (secrets/admin-token.ts) when it has one; where it does not answer, `ready_error` says why.
 */
export async function addReadiness(
  processes: ProcessStatus[],
  timeoutMs = 1000,
  adminToken: AdminToken = {},
): Promise<number> {
  let notReady = 0;
  await Promise.all(
    processes.map(async (p) => {
      if (!p.admin || p.state === 'missing') return;
      const r = await readReadyz(p.admin, timeoutMs, adminToken.token);
      if (!r.reachable) {
        p.ready_error = r.denied && adminToken.error ? `${r.error}; ${adminToken.error}` : r.error;
        return;
      }
      p.ready = { ready: r.ready, why: r.why };
      if (!r.ready && p.state === 'up') notReady++;
    }),
  );
  return notReady;
}

export async function getStatus(o: {
  provider: Provider;
  /** undefined when Redis could not be reached (redisError says why) */
  redis?: FleetRedis;
  redisUrl?: string;
  redisError?: string;
  /** the fleet's admin token for token-protected /readyz (adminTokenOf) */
  adminToken?: AdminToken;
}): Promise<StatusReport> {
  const [machines, listed, supervision] = await Promise.all([
    o.provider.machines(),
    o.provider.expected(),
    // what remote supervisors recorded (restarts, last exit); status goes on without it
    o.provider.supervision?.().catch(() => undefined),
  ]);
  const expected = supervision
    ? listed.map((e) => ({ ...e, ...(e.restarts === undefined ? supervision.get(e.id) : {}) }))
    : listed;
  let view: HeartbeatView | undefined;
  let redisError = o.redisError;
  if (o.redis) {
    try {
      view = await readHeartbeatView(o.redis);
    } catch (err) {
      redisError = (err as Error).message;
    }
  }
  const { processes, summary } = joinStatus(expected, view);
  summary.not_ready = await addReadiness(processes, 1000, o.adminToken);
  return {
    at: new Date().toISOString(),
    provider: o.provider.kind,
    redis: {
      url: o.redisUrl ? redactUrl(o.redisUrl) : null,
      ok: !!view,
      ...(redisError ? { error: redisError } : {}),
    },
    machines,
    processes,
    summary,
    ok:
      !!view &&
      summary.missing === 0 &&
      summary.stale === 0 &&
      summary.not_ready === 0 &&
      summary.expected === summary.up,
  };
}

/**
 * Wait until every expected process is healthy (liveness.ts): beating freshly, at `version` if given, stable
 * (STABLE_BEATS beats), and after a change (`since`) a new process (mode new) or one that beat since (alive);
 * then, where its admin listener answers, its /readyz ready (unreachable: the heartbeat is the fallback).
 * Resolves with the last join; throws a UserError naming the ones still not healthy, and why, at the deadline.
 */
export async function waitHealthy(
  fr: FleetRedis,
  expected: ExpectedProcess[],
  o: {
    timeoutMs: number;
    version?: string;
    /** the heartbeats present when the change began (markChange): old processes do not count */
    since?: ChangeMark;
    /** new (default): a restart is really done, the process differs; alive: it has beaten since the mark */
    mode?: 'new' | 'alive';
    signal?: AbortSignal;
    /** gets a `host` event (step "health") as each process turns healthy: per-process progress */
    events?: EventSink;
    /** the fleet's admin token, for token-protected /readyz */
    adminToken?: string;
  },
): Promise<ReturnType<typeof joinStatus>> {
  const t0 = Date.now();
  const until = t0 + o.timeoutMs;
  const healthy = new Set<string>();
  const live = new Liveness({ version: o.version, since: o.since, mode: o.mode });
  // processes whose /readyz said ready once, or cannot be read (then the heartbeat alone decides)
  const readyDone = new Set<string>();
  for (;;) {
    const [view, beats] = await Promise.all([readHeartbeatView(fr), readBeats(fr.redis, fr.keys, expected)]);
    const res = joinStatus(expected, view);
    const why = new Map<string, string>();
    for (const p of expected) {
      const v = live.judge(procKey(p), beats.get(procKey(p)));
      if (!v.ok) why.set(p.id, v.state === 'missing' ? v.state : `${v.state}: ${v.why}`);
    }
    // beating as wanted: where its admin listener answers, it must also say ready (as deploy's health check)
    await Promise.all(
      res.processes.map(async (p) => {
        if (!p.expected || !p.admin || why.has(p.id) || readyDone.has(p.id)) return;
        const r = await readReadyz(p.admin, 1000, o.adminToken);
        if (!r.reachable || r.ready) readyDone.add(p.id);
        else why.set(p.id, `not ready (/readyz at ${p.admin}): ${r.why.join('; ') || 'no reason given'}`);
      }),
    );
    for (const p of res.processes) {
      if (!p.expected || why.has(p.id) || healthy.has(p.id)) continue;
      healthy.add(p.id);
      o.events?.emit({
        type: 'host',
        step: 'health',
        host: p.id,
        phase: 'end',
        ok: true,
        detail: `pid ${p.pid}, ${p.version}`,
        ms: Date.now() - t0,
      });
    }
    if (why.size === 0) return res;
    if (Date.now() >= until || o.signal?.aborted) {
      throw new UserError(
        `not healthy after ${Math.round(o.timeoutMs / 1000)} s: ${[...why].map(([id, w]) => `${id} (${w})`).join(', ')}`,
        {
          code: 'GOD_UNHEALTHY',
          hint: 'See why with `god logs --role ROLE --level warn` or the process log files (.god/local/logs for the local fleet).',
        },
      );
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}
