// One log line as the dashboard holds it: the stream fields, with time and message parsed only when shown.
import type { LogEntryFields } from '../../protocol/redis-contract.ts';

export interface LogLine {
  role: string;
  id: string;
  host: string;
  level: string;
  /** the original JSON line (searched by the text filter) */
  raw: string;
  /** ms since epoch; from the stream entry id when known, else parsed from the line */
  time?: number;
  /** filled on first display */
  shown?: { time: number; text: string };
}

// Fields every pino line carries; the rest are context worth showing next to the message.
const BASE_FIELDS = new Set(['level', 'time', 'pid', 'hostname', 'role', 'id', 'host', 'msg', 'v']);

export function fromStreamEntry(fields: LogEntryFields, streamId?: string): LogLine {
  const ms = streamId ? Number(streamId.slice(0, streamId.indexOf('-'))) : Number.NaN;
  return {
    role: fields.role,
    id: fields.id,
    host: fields.host,
    level: fields.level,
    raw: fields.line,
    time: Number.isFinite(ms) ? ms : undefined,
  };
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
    const s = JSON.stringify(v);
    return s.length > 80 ? `${s.slice(0, 77)}...` : s;
  }
  return String(v);
}

/** Time and one-line text of a log line (message, then its context as key=value). */
export function display(line: LogLine): { time: number; text: string } {
  if (line.shown) return line.shown;
  let time = line.time;
  let text = line.raw;
  if (line.raw.startsWith('{')) {
    try {
      const obj = JSON.parse(line.raw) as Record<string, unknown>;
      if (time === undefined) {
        const t = typeof obj.time === 'number' ? obj.time : Date.parse(String(obj.time));
        if (Number.isFinite(t)) time = t;
      }
      const parts: string[] = [];
      if (obj.msg !== undefined) parts.push(String(obj.msg));
      for (const [k, v] of Object.entries(obj)) {
        if (BASE_FIELDS.has(k) || v === undefined) continue;
        if (k === 'err' && v && typeof v === 'object' && 'message' in v) {
          parts.push(`err=${compact((v as { message: unknown }).message)}`);
          continue;
        }
        parts.push(`${k}=${compact(v)}`);
      }
      text = parts.join(' ');
    } catch {
      // not JSON after all: show it raw
    }
  }
  text = text.replace(/[\r\n\t]+/g, ' ');
  line.shown = { time: time ?? Date.now(), text };
  return line.shown;
}
