// Wire protocol v1: the one schema of every message; types are derived from it.
import { z } from 'zod';

export const PROTOCOL_VERSION = 1;
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
});
export type RankedMovie = z.infer<typeof RankedMovieSchema>;

// ---- client → server ----
export const ClientParams = {
  connect: z.object({
    client: z.object({ app: z.string(), version: z.string(), platform: z.string().optional() }),
    protocol: z
      .literal(PROTOCOL_VERSION, {
        error: `unsupported protocol version: this server speaks protocol ${PROTOCOL_VERSION} only; send "protocol": ${PROTOCOL_VERSION} or omit it`,
      })
      .optional(),
  }),
  start_feed: z.object({ movie_id: z.number().int() }),
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
  post_tweet: z.object({ movie_id: z.number().int(), tweet: TweetSchema }),
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

/** Validate a decoded JSON value as a client message. Never throws. */
export const parseClientMessage = (value: unknown): ParseResult<ClientMessage> =>
  parseWith<ClientMessage>(ClientParams, value);
/** Validate a decoded JSON value as a server message (used by the client SDK). Never throws. */
export const parseServerMessage = (value: unknown): ParseResult<ServerMessage> =>
  parseWith<ServerMessage>(ServerParams, value);
