// Wire protocol 1.0 and 1.1: the one schema of every message; types are derived from it. The tables hold 1.1
// (a superset); what is 1.1-only is listed in V1_1_ONLY, and a 1.0 connection never sends or honours it.
import { z } from 'zod';

/** The major version (the `1` a 1.0 client may send as `protocol`). */
export const PROTOCOL_VERSION = 1;
/** Minor versions this side speaks; `connect.protocol` negotiates the highest both speak. */
export const PROTOCOL_MINORS = [0, 1] as const;
export type ProtocolMinor = (typeof PROTOCOL_MINORS)[number];
export const LATEST_MINOR: ProtocolMinor = 1;
/** What 1.1 adds: server actions only a 1.1 connection gets, and new params of existing messages. */
export const V1_1_ONLY = {
  serverActions: ['connected', 'feed_started'],
  params: { start_feed: ['since'], post_tweet: ['offset', 'epoch'], set_movies: ['watching'] },
} as const;
/** Signed connections (PROTOCOL.md, "Signed connections") are not tied to a version: `connect.token`,
 * `refresh_token` and `token_refreshed` exist for 1.0 and 1.1 alike, and only a client that sends a token (or
 * an endpoint with auth on) ever sees them. */
export const AUTH_MESSAGES = {
  clientActions: ['refresh_token'],
  serverActions: ['token_refreshed'],
  params: { connect: ['token'] },
} as const;
/** Longest token accepted (a JWT with a few claims is well under 2 KB). */
export const MAX_TOKEN_CHARS = 8192;
/** Client lines longer than this (bytes, without the newline) are refused with `line_too_long`. */
export const MAX_LINE_BYTES = 64 * 1024;
export const RANKING_WINDOW_S = 3600;
export const RECENT_TWEETS_ON_START = 20;

// ISO-8601 date-time with a zone (what toISOString() and Twitter's created_at give).
const isoDate = z.iso.datetime({ offset: true, message: 'must be an ISO-8601 date-time' });

/** Deepest nesting of arrays/objects accepted in an echoed value (ping/pong `id`). */
export const MAX_ECHO_DEPTH = 16;
/** Whether `value` nests arrays/objects at most `max` levels deep. Iterative, so it never overflows the stack. */
function nestsAtMost(value: unknown, max: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (depth >= max) return false;
    for (const child of Object.values(v)) stack.push([child, depth + 1]);
  }
  return true;
}
/** Any JSON value, nested at most MAX_ECHO_DEPTH deep: a deeper one would make JSON.stringify of the echo
 * (`pong`) overflow the stack (about 5000 levels fit in a 10 KB line). */
const echoId = z
  .unknown()
  .refine(
    (v) => nestsAtMost(v, MAX_ECHO_DEPTH),
    `must not nest arrays/objects deeper than ${MAX_ECHO_DEPTH} levels`,
  );

export const TweetSchema = z.object({
  id: z.string(),
  text: z.string(),
  created_at: isoDate,
  user: z.object({ name: z.string(), screen_name: z.string() }),
});
export type Tweet = z.infer<typeof TweetSchema>;

export const RankedMovieSchema = z.object({
  id: z.number().int(),
  title: z.string(),
  count: z.number().int().nonnegative(),
  /** 1.1: clients on this movie's feed across the whole fleet (as of the last sync) */
  watching: z.number().int().nonnegative().optional(),
});
export type RankedMovie = z.infer<typeof RankedMovieSchema>;

/** A feed position: the stream entry id of a tweet (`<ms>-<seq>`, each part a 64-bit unsigned integer, as
 * Redis writes it). Opaque to clients: they send back the last one they got. */
export const OFFSET_PATTERN = /^(0|[1-9][0-9]{0,19})-(0|[1-9][0-9]{0,19})$/;
const U64_MAX = 18446744073709551615n;
export const isOffset = (s: string): boolean => {
  const m = OFFSET_PATTERN.exec(s);
  return !!m && BigInt(m[1]!) <= U64_MAX && BigInt(m[2]!) <= U64_MAX;
};
/** Order of two offsets (negative: a is older). Both must be valid offsets. */
export function compareOffsets(a: string, b: string): number {
  const da = a.indexOf('-');
  const db = b.indexOf('-');
  // no leading zeros: a longer number is a larger one
  if (da !== db) return da - db;
  const ms = a.slice(0, da) < b.slice(0, db) ? -1 : a.slice(0, da) > b.slice(0, db) ? 1 : 0;
  if (ms !== 0) return ms;
  const sa = a.slice(da + 1);
  const sb = b.slice(db + 1);
  if (sa.length !== sb.length) return sa.length - sb.length;
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}
/** Longest epoch accepted from a client (the server's are 16 characters). */
export const MAX_EPOCH_CHARS = 64;
export const OffsetSchema = z
  .string()
  .max(41, 'must be an offset from post_tweet ("<ms>-<seq>")')
  .refine(isOffset, 'must be an offset from post_tweet ("<ms>-<seq>", each part at most 2^64-1)');
export const EpochSchema = z
  .string()
  .min(1)
  .max(MAX_EPOCH_CHARS)
  .regex(/^[A-Za-z0-9_-]+$/, 'must be an epoch from post_tweet or feed_started');
export const SinceSchema = z.strictObject({ offset: OffsetSchema, epoch: EpochSchema });
export type Since = z.infer<typeof SinceSchema>;

const UNSUPPORTED = `unsupported protocol version: this server speaks ${PROTOCOL_MINORS.map((m) => `"1.${m}"`).join(' and ')}; send "protocol": "1.${LATEST_MINOR}", or 1 (or nothing) for 1.0`;
/** The minor version a `connect.protocol` value negotiates: 1 / "1" / "1.0" → 0, "1.1" (or the number 1.1) →
 * 1, a higher "1.x" → the highest this side speaks; undefined: not a version of protocol 1. */
export function negotiatedMinor(v: number | string | undefined): ProtocolMinor | undefined {
  if (v === undefined) return 0;
  const m = typeof v === 'number' ? /^1(?:\.(\d))?$/.exec(String(v)) : /^1(?:\.(\d{1,4}))?$/.exec(v);
  return m ? (Math.min(Number(m[1] ?? 0), LATEST_MINOR) as ProtocolMinor) : undefined;
}
/** `connect.protocol`: kept as sent (see negotiatedMinor). */
export const ProtocolSchema = z
  .union([z.number(), z.string().max(16)], { error: UNSUPPORTED })
  .refine((v) => negotiatedMinor(v) !== undefined, UNSUPPORTED);

// ---- client → server ----
export const ClientParams = {
  connect: z.object({
    client: z.object({ app: z.string(), version: z.string(), platform: z.string().optional() }),
    protocol: ProtocolSchema.optional(),
    /** a JWT, required when the endpoint checks tokens (--auth-secret-file / --auth-jwks); never logged */
    token: z.string().min(1).max(MAX_TOKEN_CHARS).optional(),
  }),
  /** Replace the session's token before it expires, without reconnecting (answer: `token_refreshed`). */
  refresh_token: z.object({ token: z.string().min(1).max(MAX_TOKEN_CHARS) }),
  /** `since` (1.1): resume after this offset. A 1.0 connection ignores it, whatever it holds (see parseClientMessage). */
  start_feed: z.object({ movie_id: z.number().int(), since: SinceSchema.optional() }),
  stop_feed: z.object({ movie_id: z.unknown().optional() }),
  ping: z.object({ id: echoId.optional() }),
} as const;
export type ClientAction = keyof typeof ClientParams;
export const CLIENT_ACTIONS = Object.keys(ClientParams) as ClientAction[];

// ---- server → client ----
export const ERROR_CODES_KEEP_OPEN = [
  'invalid_json',
  'invalid_message',
  'unknown_action',
  'not_connected',
  'unknown_movie',
  // also closes when the client is far over its limit (PROTOCOL.md)
  'rate_limited',
  'unavailable',
] as const;
export const ERROR_CODES_CLOSE = [
  'line_too_long',
  'slow_consumer',
  'server_full',
  'too_many_connections',
  'idle_timeout',
  'connect_timeout',
  // signed connections (auth on): no / a bad token on connect or refresh_token, or the session's token expired
  'auth_required',
  'auth_invalid',
  'auth_expired',
] as const;
export const ErrorCodeSchema = z.enum([...ERROR_CODES_KEEP_OPEN, ...ERROR_CODES_CLOSE]);
export type ErrorCode = z.infer<typeof ErrorCodeSchema>;
export const closesConnection = (code: ErrorCode): boolean =>
  (ERROR_CODES_CLOSE as readonly string[]).includes(code);

export const ServerParams = {
  set_movies: z.object({
    movies: z.array(RankedMovieSchema),
    window_s: z.number().int(),
    at: isoDate,
  }),
  /** `offset`, `epoch`: 1.1 only. */
  post_tweet: z.object({
    movie_id: z.number().int(),
    tweet: TweetSchema,
    offset: OffsetSchema.optional(),
    epoch: EpochSchema.optional(),
  }),
  /** 1.1: the answer to a 1.1 `connect`, before `set_movies`: the negotiated version. */
  connected: z.object({ protocol: z.string() }),
  /** 1.1: the first answer to `start_feed`, before any of its tweets: whether it resumed. */
  feed_started: z.object({
    movie_id: z.number().int(),
    /** true: the `history` tweets that follow are exactly those after `since.offset` */
    resumed: z.boolean(),
    /** why `since` could not be honoured (absent when resumed or when there was no `since`) */
    reason: z.enum(['epoch_changed', 'offset_not_found', 'history_unavailable']).optional(),
    /** the feed's epoch (absent while the feed has no history yet) */
    epoch: EpochSchema.optional(),
    /** how many `post_tweet` of history follow, before the live ones */
    history: z.number().int().nonnegative(),
  }),
  /** the answer to `refresh_token`: the new token is in force; `expires_at` its `exp` (absent when this
   * endpoint does not check tokens) */
  token_refreshed: z.object({ expires_at: isoDate.optional() }),
  reconnect: z.object({ host: z.string(), port: z.number().int(), tls: z.boolean(), reason: z.string() }),
  error: z.object({ code: ErrorCodeSchema, message: z.string(), action: z.string().optional() }),
  pong: z.object({ id: echoId.optional() }),
} as const;
export type ServerAction = keyof typeof ServerParams;

type ParamsOf<T extends Record<string, z.ZodType>> = { [K in keyof T]: z.infer<T[K]> };
export type ClientParamsOf = ParamsOf<typeof ClientParams>;
export type ServerParamsOf = ParamsOf<typeof ServerParams>;

/** A discriminated union of messages: `{action: 'ping', params: {...}}` etc. */
export type ClientMessage = { [K in ClientAction]: { action: K; params: ClientParamsOf[K] } }[ClientAction];
export type ServerMessage = { [K in ServerAction]: { action: K; params: ServerParamsOf[K] } }[ServerAction];

export type ParseResult<M> =
  | { ok: true; message: M }
  | { ok: false; code: 'invalid_message' | 'unknown_action'; message: string; action?: string };

/** The 1.0 view of the client table: the 1.1-only params are not in it, so a 1.0 connection drops them unread,
 * as a 1.0 server dropped every unknown param. */
const ClientParams10: Record<string, z.ZodType> = {
  ...ClientParams,
  start_feed: ClientParams.start_feed.omit({ since: true }),
};

function parseWith<M>(table: Record<string, z.ZodType>, value: unknown): ParseResult<M> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, code: 'invalid_message', message: 'a message must be a JSON object' };
  }
  const { action, params } = value as { action?: unknown; params?: unknown };
  if (typeof action !== 'string') {
    return { ok: false, code: 'invalid_message', message: '"action" must be a string' };
  }
  if (!Object.hasOwn(table, action)) {
    return {
      ok: false,
      code: 'unknown_action',
      message: `unknown action "${action.slice(0, 64)}"`,
      action: action.slice(0, 64),
    };
  }
  // `params` may be omitted when empty.
  const parsed = table[action].safeParse(params === undefined ? {} : params);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? `params.${issue.path.join('.')}` : 'params';
    return {
      ok: false,
      code: 'invalid_message',
      message: `${where}: ${issue?.message ?? 'invalid'}`,
      action,
    };
  }
  return { ok: true, message: { action, params: parsed.data } as M };
}

/** Validate a decoded JSON value as a client message of a connection speaking 1.`minor` (default: the latest).
 * Never throws. */
export const parseClientMessage = (
  value: unknown,
  minor: ProtocolMinor = LATEST_MINOR,
): ParseResult<ClientMessage> => parseWith<ClientMessage>(minor === 0 ? ClientParams10 : ClientParams, value);
/** "1.0" / "1.1" */
export const protocolName = (minor: ProtocolMinor): string => `${PROTOCOL_VERSION}.${minor}`;
/** Validate a decoded JSON value as a server message (used by the client SDK). Never throws. */
export const parseServerMessage = (value: unknown): ParseResult<ServerMessage> =>
  parseWith<ServerMessage>(ServerParams, value);
