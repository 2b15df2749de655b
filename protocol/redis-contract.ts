// The Redis contract: every key, channel and stream name, its payload and TTL. No other file spells a key.
import { z } from 'zod';
import { TweetSchema } from './messages.ts';

export const DEFAULT_PREFIX = 'fg:';

// ---- payloads ----
export const CatalogMovieSchema = z.object({
  id: z.number().int(),
  title: z.string().min(1),
  year: z.number().int().optional(),
  aliases: z.array(z.string()).optional(),
});
export type CatalogMovie = z.infer<typeof CatalogMovieSchema>;

/** What a feeder publishes on a movie channel and keeps in the movie's history: the ready-to-send wire line
 * of a `post_tweet` message (serialized once by the feeder, written as-is by every endpoint). */
export const PublishedTweetSchema = z.object({ movie_id: z.number().int(), tweet: TweetSchema });
export type PublishedTweet = z.infer<typeof PublishedTweetSchema>;

export const RoleSchema = z.enum(['feeder', 'endpoint', 'keeper']);
export type Role = z.infer<typeof RoleSchema>;

export const HeartbeatSchema = z.object({
  role: RoleSchema,
  id: z.string(),
  host: z.string(),
  pid: z.number().int(),
  version: z.string(),
  started_at: z.string(),
  at: z.string(),
  rss: z.number(),
  /** CPU use since the previous beat, percent of one core. */
  cpu: z.number(),
  gauges: z.record(z.string(), z.number()),
  /** beats this process has written, 1 for its first (God tells a process that beat once and died from one
   * that stays up; optional: releases before it did not write it) */
  seq: z.number().int().positive().optional(),
  /** the role's admin HTTP listener (`host:port`: /metrics, /healthz, /readyz), when it runs one (optional:
   * off by default, and releases before it did not write it) */
  admin: z.string().max(300).optional(),
});
export type Heartbeat = z.infer<typeof HeartbeatSchema>;

export const EndpointRecordSchema = z.object({
  id: z.string(),
  host: z.string(),
  port: z.number().int(),
  tls: z.boolean(),
  clients: z.number().int(),
  capacity: z.number().int(),
  soft_limit: z.number().int(),
  draining: z.boolean(),
  at: z.string(),
});
export type EndpointRecord = z.infer<typeof EndpointRecordSchema>;

/** The levels a role's logger accepts (pino throws on any other, so `log_level` is checked against these). */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
export const LogLevelSchema = z.enum(LOG_LEVELS);
/** Longest control payload a role reads; a longer one is dropped without being parsed. */
export const MAX_CONTROL_BYTES = 4096;
/** Longest `shed.reason`: it is passed on to clients in `reconnect`. */
export const MAX_SHED_REASON = 200;

export const ControlMessageSchema = z.discriminatedUnion('cmd', [
  z.object({
    cmd: z.literal('shed'),
    clients: z.number().int().positive(),
    reason: z.string().max(MAX_SHED_REASON).optional(),
  }),
  z.object({ cmd: z.literal('drain') }),
  z.object({ cmd: z.literal('stop') }),
  z.object({ cmd: z.literal('log_level'), level: LogLevelSchema }),
]);
export type ControlMessage = z.infer<typeof ControlMessageSchema>;

/** Fields of one log stream entry. `line` is the original JSON log line, archived verbatim. */
export const LogEntryFieldsSchema = z.object({
  role: z.string(),
  id: z.string(),
  host: z.string(),
  level: z.string(),
  line: z.string(),
  /**
   * the line's unique id `<boot>.<seq>` (roles/runtime/log-sink.ts): boot is fresh on each process start, seq
   * counts from 0 in it; a re-sent copy (after a failover) has the same lid, which the keeper drops. Also spliced
   * into the JSON line as its last field `lid`. Absent in entries written before issue 16 and by God.
   */
  lid: z.string().optional(),
});
export type LogEntryFields = z.infer<typeof LogEntryFieldsSchema>;

/** Fields of one `alerts` stream entry (what the keeper sent, or only logged). */
export const AlertFieldsSchema = z.object({
  kind: z.enum(['silence', 'recovered', 'exception', 'digest', 'archive_down', 'archive_up']),
  subject: z.string(),
  text: z.string(),
  /** sms | email | log (no SNS/SES configured) | failed (delivery failed; see the keeper's log) */
  delivered: z.enum(['sms', 'email', 'log', 'failed']),
  keeper: z.string(),
  at: z.string(),
});
export type AlertFields = z.infer<typeof AlertFieldsSchema>;
export const ALERTS_STREAM_MAXLEN = 10_000;

/** Fields of one audit stream entry: `record` is God's AuditRecord JSON (god/core/audit.ts owns its shape). */
export const AuditEntryFieldsSchema = z.object({ record: z.string() });
/** Changes kept in the audit stream (`MAXLEN ~`); the keeper archives them under `audit/` first. */
export const AUDIT_STREAM_MAXLEN = 100_000;

// ---- TTLs and caps ----
export const HEARTBEAT_INTERVAL_MS = 2_000;
/** A process missing three beats is gone. */
export const HEARTBEAT_TTL_S = 7;
export const ENDPOINT_TTL_S = 6;
/** An endpoint's `watching` counts outlive this many of its sync periods (at least WATCHING_MIN_TTL_MS), so a
 * dead endpoint's clients stop being counted soon after. */
export const WATCHING_TTL_PERIODS = 3;
export const WATCHING_MIN_TTL_MS = 1000;
/** Tweets kept per movie in its history stream (`MAXLEN ~`: Redis may keep up to one stream node, 100
 * entries, more). A client away for longer than this many tweets of its movie cannot resume. */
export const HISTORY_CAP = 1000;
export const HISTORY_TTL_S = 24 * 3600;
/** Fields of a history stream entry: the `post_tweet` wire line of protocol 1.0 (`\n` included) and the feed's
 * epoch. Every entry carries the epoch, so it lives and dies with the history it names: a stream that is
 * flushed, deleted, expired or recreated starts without one, and its next tweet starts a new epoch. */
export const HISTORY_FIELDS = { line: 't', epoch: 'e' } as const;
/** Per-minute count buckets live a little over the one-hour window. */
export const COUNT_BUCKET_S = 60;
export const COUNT_BUCKET_TTL_S = 3600 + 5 * 60;
export const LOG_STREAM_MAXLEN = 200_000;
export const KEEPER_GROUP = 'keepers';

export function redisContract(prefix: string = DEFAULT_PREFIX) {
  const p = prefix;
  return {
    prefix: p,
    /** hash: movie id → CatalogMovie JSON */
    catalog: `${p}catalog`,
    /** pubsub: catalog replaced (payload: count of movies) */
    catalogChanged: `${p}catalog:changed`,
    /** pubsub: the protocol 1.1 wire line of `post_tweet` for one movie (with `offset` and `epoch` last) */
    movieChannel: (movieId: number) => `${p}movie:${movieId}:tweets`,
    /** the movie id of a movie channel name, or undefined */
    movieIdOfChannel: (channel: string): number | undefined => {
      const m = /:movie:(-?\d+):tweets$/.exec(channel);
      return m && channel.startsWith(p) ? Number(m[1]) : undefined;
    },
    /** stream, capped at HISTORY_CAP (MAXLEN ~), TTL HISTORY_TTL_S: one entry per tweet of the movie, its id
     * the tweet's offset, fields HISTORY_FIELDS (1.0 wire line, epoch); written with the PUBLISH by one script */
    movieHistory: (movieId: number) => `${p}movie:${movieId}:history`,
    /** hash per minute bucket: movie id → tweets counted in that minute */
    countBucket: (minuteEpoch: number) => `${p}counts:${minuteEpoch}`,
    /** string: JSON of `set_movies` params, computed once by the feeder */
    ranking: `${p}ranking`,
    /** pubsub: the ranking changed (payload: its `at`) */
    rankingChanged: `${p}ranking:changed`,
    /** string with TTL: Heartbeat JSON */
    heartbeat: (role: string, id: string) => `${p}proc:${role}:${id}`,
    /** zset: "role:id" → last beat (ms); members whose key expired are stale */
    heartbeatIndex: `${p}procs`,
    /** stream: every role's log lines (LogEntryFields), capped at LOG_STREAM_MAXLEN */
    logStream: `${p}logs`,
    /** string with TTL: EndpointRecord JSON */
    endpoint: (id: string) => `${p}endpoint:${id}`,
    /** zset: endpoint id → last registration (ms) */
    endpointIndex: `${p}endpoints`,
    /** hash with TTL (WATCHING_TTL_PERIODS sync periods), one per endpoint: movie id → its clients on that
     * movie's feed; rewritten whole every sync period. Summed over the fleet for `set_movies` `watching` (1.1) */
    watching: (endpointId: string) => `${p}watching:${endpointId}`,
    /** zset: endpoint id → ms of its last `watching` write (members older than the TTL are gone) */
    watchingIndex: `${p}watching-endpoints`,
    /** hash: endpoint id → the release God admitted it at (after its health check); an `--unlisted` endpoint
     * writes its record only while this names its own release. God writes it, and deletes a terminated one's */
    endpointAdmitted: `${p}endpoint-admitted`,
    /** pubsub: ControlMessage for one process / every process of a role */
    control: (role: string, id: string) => `${p}control:${role}:${id}`,
    controlRole: (role: string) => `${p}control:${role}:*all*`,
    /** string with TTL: holder of God's deploy lock */
    deployLock: `${p}god:deploy-lock`,
    /** stream: God's audit trail, one AuditEntryFields per change (who, what, result), capped at
     * AUDIT_STREAM_MAXLEN; its own stream, not the log stream (a 'god' source there would arm silence alerts) */
    auditStream: `${p}god:audit`,
    /** stream: keeper alerts (silence, exception) for God; also logged */
    alerts: `${p}alerts`,
    /** string: JSON of the last published endpoint list */
    endpointList: `${p}endpoint-list`,
    /** zset: "role|id|host" of non-keeper log sources → ms of their last entry (keepers share what they read) */
    keeperLastSpoke: `${p}keeper:last-spoke`,
    /** string per role: JSON {since} while a silence alert for that role is open; removed (GETDEL) by whoever sends the recovery */
    keeperSilence: (role: string) => `${p}keeper:silence:${role}`,
    /** hash per exception fingerprint {n}: occurrences in the current digest window (keepers share the count) */
    keeperException: (fingerprint: string) => `${p}keeper:exception:${fingerprint}`,
    /** hash {n, over:<fp>, about:<fp>}: exception emails sent in the current window (global cap) and the
     * fingerprints over the cap, listed in one storm digest by the keeper that opened the window */
    keeperExceptionBudget: `${p}keeper:exception-budget`,
  };
}
export type RedisContract = ReturnType<typeof redisContract>;
