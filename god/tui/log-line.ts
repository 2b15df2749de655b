// One log line as the dashboard holds it: the stream fields, with time and message parsed only when shown.
import type { LogEntryFields } from '../../protocol/redis-contract.ts';
import { safeText } from '../core/logs.ts';

export interface LogLine {
  role: string;
  id: string;
  host: string;
  level: string;
  /** the original JSON line; absent when the line came already parsed (`msg` and `data`) */
  raw?: string;
  msg?: string;
  data?: Record<string, unknown>;
  /** ms since epoch; from the stream entry id when known, else parsed from the line */
  time?: number;
  /** filled on first display */
  shown?: { time: number; text: string };
}

// Fields every pino line carries; the rest are context worth showing next to the message.
const BASE_FIELDS = new Set(['level', 'time', 'pid', 'hostname', 'role', 'id', 'host', 'msg', 'v', 'lid']);

export function fromStreamEntry(fields: LogEntryFields, streamId?: string): LogLine {
  const ms = streamId ? Number(streamId.slice(0, streamId.indexOf('-'))) : Number.NaN;
  // every string shown comes from the stream: terminal-safe (the text is made safe in display())
  return {
    role: safeText(fields.role),
    id: safeText(fields.id),
    host: safeText(fields.host),
    level: safeText(fields.level),
    raw: fields.line,
    time: Number.isFinite(ms) ? ms : undefined,
  };
}

/** A line God's log service already parsed (god/core/logs.ts LogRecord); its text is built when first shown. */
export function fromRecord(r: {
  role: string;
  id: string;
  host: string;
  level: string;
  at: string;
  msg: string;
  data: Record<string, unknown>;
  stream_id?: string;
}): LogLine {
  // the line's own time; the stream id's is when the batch reached Redis
  let ms = Date.parse(r.at);
  if (!Number.isFinite(ms) && r.stream_id) ms = Number(r.stream_id.slice(0, r.stream_id.indexOf('-')));
  return {
    role: safeText(r.role),
    id: safeText(r.id),
    host: safeText(r.host),
    level: safeText(r.level),
    msg: r.msg,
    data: r.data,
    time: Number.isFinite(ms) ? ms : undefined,
  };
}

/** What the text filter searches: the raw line, else the shown text. */
export function searchText(line: LogLine): string {
  return line.raw ?? display(line).text;
}

/** Stream entries come as a flat [k, v, k, v...] list; tolerate missing fields rather than drop the line. */
export function fieldsFromList(list: string[]): LogEntryFields {
  const f: Record<string, string> = {};
  for (let i = 0; i + 1 < list.length; i += 2) f[list[i]!] = list[i + 1]!;
  return {
    role: f.role ?? '?',
    id: f.id ?? '?',
    host: f.host ?? '?',
    level: f.level ?? 'info',
    line: f.line ?? '',
  };
}

function compact(v: unknown): string {
  if (typeof v === 'string') return /\s/.test(v) || v === '' ? JSON.stringify(v) : v;
  if (v !== null && typeof v === 'object') {
    const json = JSON.stringify(v);
    return json.length > 80 ? `${json.slice(0, 77)}...` : json;
  }
  return String(v);
}

/** The message, then the line's own fields as key=value. */
function contextText(msg: string, fields: Record<string, unknown>): string {
  const parts: string[] = msg ? [msg] : [];
  for (const [k, v] of Object.entries(fields)) {
    if (BASE_FIELDS.has(k) || v === undefined) continue;
    if (k === 'err' && v && typeof v === 'object' && 'message' in v) {
      parts.push(`err=${compact((v as { message: unknown }).message)}`);
      continue;
    }
    parts.push(`${k}=${compact(v)}`);
  }
  return parts.join(' ');
}

/** Time and one-line text of a log line (message, then its context as key=value). */
export function display(line: LogLine): { time: number; text: string } {
  if (line.shown) return line.shown;
  let time = line.time;
  let text = line.raw ?? '';
  if (line.raw === undefined) {
    text = contextText(line.msg ?? '', line.data ?? {});
  } else if (line.raw.startsWith('{')) {
    try {
      const obj = JSON.parse(line.raw) as Record<string, unknown>;
      if (time === undefined) {
        const t = typeof obj.time === 'number' ? obj.time : Date.parse(String(obj.time));
        if (Number.isFinite(t)) time = t;
      }
      text = contextText(obj.msg === undefined ? '' : String(obj.msg), obj);
    } catch {
      // not JSON after all: show it raw
    }
  }
  // one row per line: breaks and tabs become spaces, every other control character is shown escaped
  text = safeText(text.replace(/[\r\n\t]+/g, ' '));
  line.shown = { time: time ?? Date.now(), text };
  return line.shown;
}
