// Baseline for bench/keeper.ts: the obvious archiver — read one entry from the consumer group, write it as
// its own gzip'd object (temp file + rename), XACK it, repeat. Same guarantees (ack after store), no batching.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import type { Redis } from 'ioredis';
import { streamEntries } from '../../roles/keeper/archiver.ts';

const gzip = promisify(zlib.gzip);

/** Archive `count` entries of `stream` one object per line; resolves with the number archived. */
export async function naiveArchive(
  redis: Redis,
  stream: string,
  dir: string,
  count: number,
): Promise<number> {
  await redis.xgroup('CREATE', stream, 'naive', '0', 'MKSTREAM').catch(() => {});
  await fs.mkdir(dir, { recursive: true });
  let done = 0;
  while (done < count) {
    const res = await redis.call(
      'XREADGROUP',
      'GROUP',
      'naive',
      'n1',
      'COUNT',
      '1',
      'BLOCK',
      '1000',
      'STREAMS',
      stream,
      '>',
    );
    const entries = streamEntries(res);
    if (!entries?.length) break;
    const [id, fields] = entries[0]!;
    const line = fields?.[fields.indexOf('line') + 1] ?? '';
    const file = path.join(dir, `${id}.ndjson.gz`);
    const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
    await fs.writeFile(tmp, await gzip(`${line}\n`));
    await fs.rename(tmp, file);
    await redis.xack(stream, 'naive', id);
    done++;
  }
  return done;
}
