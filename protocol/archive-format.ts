// The archive object format: gzip'd NDJSON, one log entry per line, keyed by time and first entry id. The
// keeper writes it; God's `logs_archived` check (god/core/playbook/archive.ts) reads it back.
//
// Each line is the original JSON log line with the stream entry id spliced in as its first field:
//   original  {"level":30,"msg":"hi"}
//   archived  {"entry_id":"1732200000000-0","level":30,"msg":"hi"}
// so the archive stays plain JSON for jq/Athena, duplicates (at-least-once) are recognisable by entry_id,
// and `decodeArchiveLine` gives back the original line byte for byte. A line that is not a JSON object
// (never written by our loggers, but the stream accepts anything) is wrapped whole:
//   {"raw_entry_id":"…","role":"…","id":"…","host":"…","raw":"<the line as a JSON string>"}
import { promisify } from 'node:util';
import zlib from 'node:zlib';

export interface StreamEntry {
  /** stream entry id, e.g. 1732200000000-0 */
  id: string;
  role: string;
  proc: string;
  host: string;
  level: string;
  line: string;
  /** the line's unique id (stream field `lid`; roles/runtime/log-sink.ts), for dropping re-sent copies */
  lid?: string;
}

const gzip = promisify(zlib.gzip);
const gunzip = promisify(zlib.gunzip);
const PREFIX = '{"entry_id":"';
/** a different first key for wrapped lines, so decoding is never ambiguous */
const RAW_PREFIX = '{"raw_entry_id":"';
const EMPTY_OBJECT = /^\{\s*\}$/;

export function encodeArchiveLine(e: StreamEntry): string {
  const l = e.line;
  if (l.length >= 2 && l.charCodeAt(0) === 123 /* { */ && l.charCodeAt(l.length - 1) === 125 /* } */) {
    if (EMPTY_OBJECT.test(l)) return `${PREFIX}${e.id}"${l.slice(1)}`;
    return `${PREFIX}${e.id}",${l.slice(1)}`;
  }
  return (
    `${RAW_PREFIX}${e.id}","role":${JSON.stringify(e.role)},"id":${JSON.stringify(e.proc)},` +
    `"host":${JSON.stringify(e.host)},"raw":${JSON.stringify(l)}}`
  );
}

/** The entry id and the original log line of one archived line. */
export function decodeArchiveLine(s: string): { entryId: string; line: string } {
  if (s.startsWith(RAW_PREFIX)) {
    const obj = JSON.parse(s) as { raw_entry_id: string; raw: string };
    return { entryId: obj.raw_entry_id, line: obj.raw };
  }
  if (!s.startsWith(PREFIX)) throw new Error(`not an archive line (no entry_id first): ${s.slice(0, 80)}`);
  const end = s.indexOf('"', PREFIX.length);
  const entryId = s.slice(PREFIX.length, end);
  const rest = s.slice(end + 1);
  return { entryId, line: rest.startsWith(',') ? `{${rest.slice(1)}` : `{${rest}` };
}

/**
 * One archived line with the stream fields a wrapped (non-JSON) line was stored with; a JSON line carries its
 * own role, id and host (`god logs` reads them to show an archived line as its stream entry).
 */
export function decodeArchiveEntry(s: string): {
  entryId: string;
  line: string;
  role?: string;
  proc?: string;
  host?: string;
} {
  if (s.startsWith(RAW_PREFIX)) {
    const obj = JSON.parse(s) as {
      raw_entry_id: string;
      raw: string;
      role: string;
      id: string;
      host: string;
    };
    return { entryId: obj.raw_entry_id, line: obj.raw, role: obj.role, proc: obj.id, host: obj.host };
  }
  return decodeArchiveLine(s);
}

/** `logs/YYYY/MM/DD/HH`: the UTC hour an epoch ms falls in, as object keys are partitioned. */
export function hourPrefix(ms: number): string {
  const d = new Date(ms);
  const p2 = (n: number) => String(n).padStart(2, '0');
  return `logs/${d.getUTCFullYear()}/${p2(d.getUTCMonth() + 1)}/${p2(d.getUTCDate())}/${p2(d.getUTCHours())}`;
}

/** Key of an object (relative to the archive prefix): partitioned by the UTC hour of its first entry. */
export function objectKey(keeperId: string, firstEntryId: string): string {
  const ms = Number(firstEntryId.split('-')[0]);
  return `${hourPrefix(Number.isFinite(ms) ? ms : 0)}/${keeperId}-${firstEntryId}.ndjson.gz`;
}

/** Object keys as `objectKey` writes them; a spooled object under any other key is refused (see spool.ts). */
const OBJECT_KEY = /^logs\/\d{4}\/\d{2}\/\d{2}\/\d{2}\/[A-Za-z0-9._-]+-\d+-\d+\.ndjson\.gz$/;
/** Stream entry ids: ms-seq. */
const ENTRY_ID = /^\d+-\d+$/;

export function isObjectKey(key: string): boolean {
  return OBJECT_KEY.test(key);
}

export function isEntryId(id: unknown): id is string {
  return typeof id === 'string' && ENTRY_ID.test(id);
}

export interface ArchiveObject {
  /** key relative to the archive prefix */
  key: string;
  body: Buffer;
  ids: string[];
  /** lines in the object */
  count: number;
}

export async function buildObject(keeperId: string, entries: StreamEntry[]): Promise<ArchiveObject> {
  let text = '';
  for (const e of entries) text += `${encodeArchiveLine(e)}\n`;
  // level 3: ~1.7× faster than zlib's default 6 on log lines, objects ~10 % bigger
  const body = await gzip(Buffer.from(text), { level: 3 });
  return {
    key: objectKey(keeperId, entries[0]!.id),
    body,
    ids: entries.map((e) => e.id),
    count: entries.length,
  };
}

/** Decompress an object and decode each line. */
export async function readObject(body: Buffer): Promise<Array<{ entryId: string; line: string }>> {
  return (await objectLines(body)).map(decodeArchiveLine);
}

/** Decompress an object and decode each line with its stored stream fields (decodeArchiveEntry). */
export async function readObjectEntries(body: Buffer): Promise<Array<ReturnType<typeof decodeArchiveEntry>>> {
  return (await objectLines(body)).map(decodeArchiveEntry);
}

async function objectLines(body: Buffer): Promise<string[]> {
  const text = (await gunzip(body)).toString('utf8');
  return text.split('\n').filter((l) => l.length > 0);
}

/** Key of an object of God's audit trail (the keeper archives the audit stream too, roles/keeper/audit-archive.ts):
 * `audit/YYYY/MM/DD/HH/<keeper>-<first entry id>.ndjson.gz`, each line `{"entry_id":…, …the record}`. */
export function auditObjectKey(keeperId: string, firstEntryId: string): string {
  return `audit/${objectKey(keeperId, firstEntryId).slice('logs/'.length)}`;
}
