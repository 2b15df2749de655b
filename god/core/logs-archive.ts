// `god logs --since` beyond the stream: the lines older than the Redis log stream come from the keeper's
// archive (god/core/archive-reader.ts), the rest from the stream (logs.ts), joined on the stream entry id
// the archive keeps for each line: a line both archived and still in the stream is shown once.
import { readObjectEntries } from '../../protocol/archive-format.ts';
import { LOG_LEVELS } from '../../protocol/redis-contract.ts';
import { UserError } from '../../kernel/errors.ts';
import { formatDuration } from '../../kernel/units.ts';
import { type ArchiveReader, firstIdOfKey } from './archive-reader.ts';
import { type LogQuery, type LogRecord, matches, readLogs, toRecord } from './logs.ts';
import type { FleetRedis } from './redis.ts';

/** Stream entry ids (ms-seq) in stream order. */
export function compareIds(a: string, b: string): number {
  const [am = 0, as = 0] = a.split('-').map(Number);
  const [bm = 0, bs = 0] = b.split('-').map(Number);
  return am - bm || as - bs;
}

export interface ArchiveProgress {
  /** objects read so far, of `total` */
  done: number;
  total: number;
  /** lines kept so far */
  lines: number;
}

export interface HistoryOptions {
  /** the keeper's archive; undefined when none is configured */
  archive?: ArchiveReader;
  onProgress?: (p: ArchiveProgress) => void;
  /** an object that cannot be read (corrupt, vanished): named, skipped */
  onWarning?: (message: string, hint: string) => void;
}

export interface History {
  records: LogRecord[];
  /** how many of them came from the archive */
  archived: number;
  /** objects read from the archive */
  objects: number;
}

// pino-style numeric levels (10 trace … 60 fatal), as the roles' logger writes them
const levelName = (v: unknown): string =>
  typeof v === 'number' ? (LOG_LEVELS[v / 10 - 1] ?? 'info') : typeof v === 'string' ? v : 'info';

/** An archived line as the record its stream entry was: the stream's fields come from the line itself. */
export function archivedRecord(a: {
  entryId: string;
  line: string;
  role?: string;
  proc?: string;
  host?: string;
}): LogRecord | undefined {
  let obj: Record<string, unknown> = {};
  try {
    const v = JSON.parse(a.line);
    if (v && typeof v === 'object') obj = v as Record<string, unknown>;
  } catch {}
  const str = (v: unknown) => (typeof v === 'string' ? v : '');
  return toRecord(a.entryId, [
    'role',
    a.role ?? str(obj.role),
    'id',
    a.proc ?? str(obj.id),
    'host',
    a.host ?? str(obj.host),
    'level',
    levelName(obj.level),
    'line',
    a.line,
  ]);
}

/** The oldest entry in the stream (id and count), or undefined for an empty stream. */
async function streamStart(fr: FleetRedis): Promise<{ id: string; length: number } | undefined> {
  const [first, length] = await Promise.all([
    fr.redis.xrange(fr.keys.logStream, '-', '+', 'COUNT', 1) as Promise<Array<[string, string[]]>>,
    fr.redis.xlen(fr.keys.logStream),
  ]);
  return first[0] ? { id: first[0][0], length } : undefined;
}

/**
 * The newest `limit` lines matching the query, oldest first: from the stream, and, when `sinceMs` reaches
 * before the stream's oldest entry and the stream alone does not fill `limit`, from the archive too.
 * Throws a UserError when the archive is needed and none is configured.
 */
export async function readHistory(fr: FleetRedis, q: LogQuery, o: HistoryOptions = {}): Promise<History> {
  const limit = q.limit ?? (q.sinceMs !== undefined ? 10_000 : 100);
  const start = await streamStart(fr);
  const fromStream = await readLogs(fr, { ...q, limit });
  const startMs = start ? Number(start.id.split('-')[0]) : Number.POSITIVE_INFINITY;
  if (q.sinceMs === undefined || q.sinceMs >= startMs || fromStream.length >= limit || limit === 0) {
    return { records: fromStream, archived: 0, objects: 0 };
  }
  if (!o.archive) throw noArchive(q.sinceMs, start);

  // objects keyed by their first entry: one keyed an hour before `since` may still hold later lines
  const endMs = Math.min(q.untilMs ?? Number.POSITIVE_INFINITY, startMs);
  const objects = (await o.archive.objects(q.sinceMs - 3600_000, Number.isFinite(endMs) ? endMs : undefined))
    // an object that starts inside the stream holds only lines the stream has too
    .filter((ob) => {
      const first = firstIdOfKey(ob.key);
      return !first || !start || compareIds(first, start.id) < 0;
    });
  const inStream = new Set(fromStream.map((r) => r.stream_id));
  const kept = new Map<string, LogRecord>();
  // only the newest `limit` can be shown: trimming to them as we go keeps memory bounded (a line dropped has
  // `limit` newer ones kept, whatever order the objects come in)
  const trim = () => {
    if (kept.size <= 2 * limit) return;
    const ids = [...kept.keys()].sort(compareIds);
    for (const id of ids.slice(0, ids.length - limit)) kept.delete(id);
  };
  let done = 0;
  o.onProgress?.({ done, total: objects.length, lines: 0 });
  for (const ob of objects) {
    let lines: Awaited<ReturnType<typeof readObjectEntries>>;
    try {
      lines = await readObjectEntries(await ob.read());
    } catch (err) {
      o.onWarning?.(
        `archive object ${o.archive.url.replace(/\/+$/, '')}/${ob.key} could not be read, skipped: ${(err as Error).message}`,
        'Its lines are not shown. Check the object (gunzip -t); the keeper rewrites an object only on a retried upload.',
      );
      done++;
      continue;
    }
    for (const l of lines) {
      // the join: a line still in the stream is shown from there; a duplicate copy (at-least-once) once
      if (inStream.has(l.entryId) || kept.has(l.entryId)) continue;
      const r = archivedRecord(l);
      if (r && matches(r, q, l.line)) kept.set(l.entryId, r);
    }
    trim();
    done++;
    o.onProgress?.({ done, total: objects.length, lines: kept.size });
  }
  const all = [...kept.values(), ...fromStream].sort((a, b) => compareIds(a.stream_id, b.stream_id));
  const records = all.slice(Math.max(0, all.length - limit));
  const archived = records.filter((r) => kept.has(r.stream_id)).length;
  return { records, archived, objects: done };
}

function noArchive(sinceMs: number, start: { id: string; length: number } | undefined): UserError {
  const holds = start
    ? `the log stream holds ${start.length} line(s) from ${new Date(Number(start.id.split('-')[0])).toISOString()} (the last ${formatDuration(Date.now() - Number(start.id.split('-')[0]))})`
    : 'the log stream is empty';
  return new UserError(
    `--since reaches back to ${new Date(sinceMs).toISOString()}, but ${holds}, and no keeper archive is configured to read older lines from`,
    {
      code: 'GOD_LOGS_ARCHIVE',
      hint: 'Set roles.keeper.options.archive in the config to where the keeper archives (s3://BUCKET/PREFIX or file://DIR, its --archive), or ask for less with a shorter --since.',
    },
  );
}
