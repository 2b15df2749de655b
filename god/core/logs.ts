// `god logs`: history from the fleet's log stream (XREVRANGE, newest first, then shown oldest first) and a
// live tail (XREAD BLOCK), filtered by role, process, host, minimum level, a regular expression and age.
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { LOG_LEVELS, LogEntryFieldsSchema } from '../../protocol/redis-contract.ts';
import { DURATION_EXAMPLES, DURATION_UNITS, durationMs } from '../../kernel/units.ts';
import { UserError } from '../../kernel/errors.ts';
import type { FleetRedis } from './redis.ts';

/** the levels in order (owned by the Redis contract) */
export const LEVELS = LOG_LEVELS;
export type Level = (typeof LEVELS)[number];

export const LogRecordSchema = z.object({
  /** the stream entry id (ms-seq): a cursor for `--after` */
  stream_id: z.string(),
  at: z.string(),
  role: z.string(),
  /** process id */
  id: z.string(),
  host: z.string(),
  level: z.string(),
  msg: z.string(),
  /** the log line's other fields */
  data: z.record(z.string(), z.unknown()),
});
export type LogRecord = z.infer<typeof LogRecordSchema>;

export interface LogFilter {
  roles?: string[];
  ids?: string[];
  hosts?: string[];
  /** minimum level */
  level?: Level;
  grep?: RegExp;
  /** only entries newer than this (epoch ms) */
  sinceMs?: number;
  /** only entries up to this (epoch ms) */
  untilMs?: number;
}

export interface LogQuery extends LogFilter {
  /** the newest N matching entries of the history (default 100; 10,000 with sinceMs) */
  limit?: number;
  /** the newest entry id to include (default: the end of the stream) */
  until?: string;
}

const BASE_FIELDS = new Set(['level', 'time', 'msg', 'role', 'id', 'host', 'pid', 'lid']);

/**
 * Text from the log stream made safe for a terminal: every control character but tab (C0, DEL, C1 — ESC
 * sequences, carriage returns that overwrite a line, newlines that forge one) is shown escaped (`\x1b`, `\n`)
 * instead of acted on. Log lines carry what clients and tweets sent, so anything in them may be hostile.
 * `god logs` and the dashboard show every string from the stream (message, fields, role, id, host, level,
 * time) through this one function. Bidi overrides are escaped too.
 */
export function safeText(s: string): string {
  return s.replace(/[\x00-\x08\x0a-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/g, (c) => {
    if (c === '\n') return '\\n';
    if (c === '\r') return '\\r';
    const n = c.charCodeAt(0);
    // bidi overrides reorder what the operator reads (Trojan Source): shown as \u202e
    return n > 0xff ? `\\u${n.toString(16)}` : `\\x${n.toString(16).padStart(2, '0')}`;
  });
}

/** Build a filter from CLI-style strings; bad input is a UserError naming the flag. */
export function parseLogFilter(o: {
  role?: string;
  id?: string;
  host?: string;
  level?: string;
  grep?: string;
  since?: string;
  until?: string;
  now?: number;
}): LogFilter {
  const f: LogFilter = {};
  const list = (s?: string) =>
    s
      ?.split(',')
      .map((x) => x.trim())
      .filter(Boolean);
  if (o.role) f.roles = list(o.role);
  if (o.id) f.ids = list(o.id);
  if (o.host) f.hosts = list(o.host);
  if (o.level) {
    if (!LEVELS.includes(o.level as Level)) {
      throw new UserError(`--level ${o.level} is not a log level`, {
        code: 'GOD_USAGE',
        hint: `Use one of ${LEVELS.join(', ')} (entries at that level and above are shown).`,
      });
    }
    f.level = o.level as Level;
  }
  if (o.grep) {
    try {
      f.grep = new RegExp(o.grep, 'i');
    } catch (err) {
      throw new UserError(
        `--grep ${JSON.stringify(o.grep)} is not a valid regular expression: ${(err as Error).message}`,
        {
          code: 'GOD_USAGE',
          hint: 'Escape special characters, e.g. --grep "redis connected" or --grep "port \\d+".',
        },
      );
    }
  }
  if (o.since) {
    const r = durationMs.safeParse(o.since);
    if (!r.success) throw badSince(o.since);
    f.sinceMs = (o.now ?? Date.now()) - r.data;
  }
  if (o.until) {
    const r = durationMs.safeParse(o.until);
    if (!r.success) throw badSince(o.until, '--until', 'Lines older than that are shown.');
    f.untilMs = (o.now ?? Date.now()) - r.data;
    if (f.sinceMs !== undefined && f.untilMs < f.sinceMs) {
      throw new UserError(`--until ${o.until} is before --since ${o.since}: no line is in between`, {
        code: 'GOD_USAGE',
        hint: 'Both are ages (how far back from now): --since is the older end, e.g. --since 3d --until 1d.',
      });
    }
  }
  return f;
}

/** `--since` that the duration grammar does not read: what is wrong with it, and the forms it takes. */
function badSince(text: string, flag = '--since', shown = 'Lines younger than that are shown.'): UserError {
  const units = `${DURATION_UNITS.slice(0, -1).join(', ')} or ${DURATION_UNITS.at(-1)}`;
  const unit = /^\s*\d+(?:\.\d+)?\s*([a-z]+)\s*$/i.exec(text)?.[1];
  const why = text.trim().startsWith('-')
    ? 'it is negative; it is an age: how far back from now'
    : unit
      ? `"${unit}" is not a unit (${units})`
      : /\d/.test(text)
        ? 'it is not one number followed by a unit'
        : 'it has no number';
  return new UserError(`${flag} ${text} is not a duration: ${why}`, {
    code: 'GOD_USAGE',
    hint: `Give a number and a unit (${units}), e.g. ${DURATION_EXAMPLES}; a bare number is milliseconds. ${shown}`,
  });
}

function levelRank(l: string): number {
  const i = LEVELS.indexOf(l as Level);
  return i < 0 ? 2 : i;
}

/** A stream entry as a record; entries that do not fit the contract come back as undefined. */
export function toRecord(streamId: string, flat: string[]): LogRecord | undefined {
  const obj: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) obj[flat[i]!] = flat[i + 1]!;
  const f = LogEntryFieldsSchema.safeParse(obj);
  if (!f.success) return undefined;
  let parsed: Record<string, unknown> = {};
  try {
    const v = JSON.parse(f.data.line);
    if (v && typeof v === 'object') parsed = v as Record<string, unknown>;
  } catch {
    parsed = { msg: f.data.line };
  }
  const ms = Number(streamId.split('-')[0]);
  const at = typeof parsed.time === 'string' ? parsed.time : new Date(ms).toISOString();
  const data: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(parsed)) if (!BASE_FIELDS.has(k)) data[k] = v;
  return {
    stream_id: streamId,
    at,
    role: f.data.role,
    id: f.data.id,
    host: f.data.host,
    level: f.data.level,
    msg: typeof parsed.msg === 'string' ? parsed.msg : '',
    data,
  };
}

export function matches(r: LogRecord, f: LogFilter, raw?: string): boolean {
  if (f.roles && !f.roles.includes(r.role)) return false;
  if (f.ids && !f.ids.includes(r.id)) return false;
  if (f.hosts && !f.hosts.includes(r.host)) return false;
  if (f.level && levelRank(r.level) < levelRank(f.level)) return false;
  const ms = Number(r.stream_id.split('-')[0]);
  if (f.sinceMs !== undefined && ms < f.sinceMs) return false;
  if (f.untilMs !== undefined && ms > f.untilMs) return false;
  if (f.grep) {
    f.grep.lastIndex = 0;
    if (!f.grep.test(r.msg) && !f.grep.test(raw ?? JSON.stringify(r.data))) return false;
  }
  return true;
}

const CHUNK = 1000;

/** The newest `limit` entries matching the query, oldest first. */
export async function readLogs(fr: FleetRedis, q: LogQuery = {}): Promise<LogRecord[]> {
  const limit = q.limit ?? (q.sinceMs !== undefined ? 10_000 : 100);
  const floor = q.sinceMs !== undefined ? `${Math.max(0, Math.floor(q.sinceMs))}-0` : '-';
  const out: LogRecord[] = [];
  // --until: the last entry of its millisecond (the highest sequence number Redis takes)
  let end =
    q.until ?? (q.untilMs !== undefined ? `${Math.max(0, Math.floor(q.untilMs))}-18446744073709551615` : '+');
  while (out.length < limit) {
    const batch = (await fr.redis.xrevrange(fr.keys.logStream, end, floor, 'COUNT', CHUNK)) as Array<
      [string, string[]]
    >;
    for (const [id, flat] of batch) {
      const r = toRecord(id, flat);
      if (r && matches(r, q, flat[flat.indexOf('line') + 1])) out.push(r);
      if (out.length >= limit) break;
    }
    if (batch.length < CHUNK) break;
    end = `(${batch[batch.length - 1]![0]}`;
  }
  return out.reverse();
}

/** The id of the newest entry (a starting point for a tail), or '0-0' for an empty stream. */
export async function lastLogId(fr: FleetRedis): Promise<string> {
  const r = (await fr.redis.xrevrange(fr.keys.logStream, '+', '-', 'COUNT', 1)) as Array<[string, string[]]>;
  return r[0]?.[0] ?? '0-0';
}

/**
 * Follow the stream from after `afterId` until `signal` aborts, calling `onRecord` for each match.
 * Uses its own connection (XREAD BLOCK holds it); survives Redis restarts by reconnecting.
 */
export async function tailLogs(
  fr: FleetRedis,
  f: LogFilter,
  afterId: string,
  onRecord: (r: LogRecord) => void,
  signal: AbortSignal,
): Promise<void> {
  const conn: Redis = fr.duplicate('logs-tail');
  let last = afterId;
  const onAbort = () => conn.disconnect();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    while (!signal.aborted) {
      let res: Array<[string, Array<[string, string[]]>]> | null;
      try {
        res = (await conn.xread(
          'COUNT',
          CHUNK,
          'BLOCK',
          1000,
          'STREAMS',
          fr.keys.logStream,
          last,
        )) as typeof res;
      } catch {
        if (signal.aborted) break;
        await new Promise((r) => setTimeout(r, 250));
        continue;
      }
      for (const [, entries] of res ?? []) {
        for (const [id, flat] of entries) {
          last = id;
          const r = toRecord(id, flat);
          if (r && matches(r, f, flat[flat.indexOf('line') + 1])) onRecord(r);
        }
      }
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
    conn.disconnect();
  }
}
