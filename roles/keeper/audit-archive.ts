// The keeper archives God's audit stream (protocol/redis-contract.ts `auditStream`) next to the logs: the same
// consumer group name, gzip'd NDJSON objects under `audit/` (protocol/archive-format.ts auditObjectKey), XACK
// only after the object is stored. Changes are few (a handful an hour), so no spool: a failed store leaves the
// entries pending, and the next tick tries them again; a dead keeper's are claimed after a minute.
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import type { Redis } from 'ioredis';
import { auditObjectKey, encodeArchiveLine } from '../../protocol/archive-format.ts';
import type { ArchiveTarget } from '../../protocol/archive-target.ts';
import { KEEPER_GROUP, type RedisContract } from '../../protocol/redis-contract.ts';

const gzip = promisify(zlib.gzip);
const BATCH = 500;
/** a pending entry this idle belongs to a keeper that is gone (or failing): another one takes it */
const CLAIM_IDLE_MS = 60_000;

type Entries = Array<[string, string[]]>;

export function auditArchive(o: {
  redis: Redis;
  keys: RedisContract;
  target: ArchiveTarget;
  keeperId: string;
}) {
  const stream = o.keys.auditStream;
  let grouped = false;
  const ensureGroup = async () => {
    try {
      await o.redis.xgroup('CREATE', stream, KEEPER_GROUP, '0', 'MKSTREAM');
    } catch (err) {
      if (!/BUSYGROUP/.test((err as Error).message)) throw err;
    }
    grouped = true;
  };
  const read = async (from: string): Promise<Entries> => {
    const r = (await o.redis.call(
      'XREADGROUP',
      'GROUP',
      KEEPER_GROUP,
      o.keeperId,
      'COUNT',
      String(BATCH),
      'STREAMS',
      stream,
      from,
    )) as unknown[] | null;
    // [[stream, entries]] (RESP2), or [stream, entries] when the reply came as a map (RESP3)
    const entries = Array.isArray(r?.[0]) ? (r[0] as unknown[])[1] : r?.[1];
    return Array.isArray(entries) ? (entries as Entries).filter((e) => Array.isArray(e?.[1])) : [];
  };
  const store = async (entries: Entries) => {
    if (entries.length === 0) return;
    let text = '';
    for (const [id, fields] of entries) {
      const i = fields.indexOf('record');
      const line = i >= 0 ? (fields[i + 1] ?? '') : JSON.stringify(fields);
      text += `${encodeArchiveLine({ id, role: 'god', proc: 'god', host: '', level: 'info', line })}\n`;
    }
    const body = await gzip(Buffer.from(text), { level: 6 });
    await o.target.put(auditObjectKey(o.keeperId, entries[0]![0]), body, 'application/x-ndjson');
    await o.redis.xack(stream, KEEPER_GROUP, ...entries.map((e) => e[0]));
  };
  /** one pass: own pending first (a failed store), then a dead keeper's, then new entries */
  return async function tick(): Promise<void> {
    try {
      if (!grouped) await ensureGroup();
      const own = await read('0');
      if (own.length) return await store(own);
      const claimed = (await o.redis.call(
        'XAUTOCLAIM',
        stream,
        KEEPER_GROUP,
        o.keeperId,
        String(CLAIM_IDLE_MS),
        '0-0',
        'COUNT',
        String(BATCH),
      )) as [string, Entries];
      const theirs = Array.isArray(claimed?.[1]) ? claimed[1].filter((e) => Array.isArray(e?.[1])) : [];
      if (theirs.length) return await store(theirs);
      await store(await read('>'));
    } catch (err) {
      // the stream or its group was deleted (FLUSHALL): make it again next time
      if (/NOGROUP/.test((err as Error).message)) grouped = false;
      throw err;
    }
  };
}
