// Shared by the keeper tests: start keepers (in-process or as a real child), write log entries the way
// roles do, and read back what landed in the archive (S3 on moto or a folder).
import fs from 'node:fs';
import path from 'node:path';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import type { Redis } from 'ioredis';
import { LOG_STREAM_MAXLEN, type RedisContract } from '../../protocol/redis-contract.ts';
import { readObject } from '../../protocol/archive-format.ts';
import { keeperRole } from '../../roles/keeper/keeper.ts';
import { type RoleHandle, startRole } from '../../roles/runtime/role.ts';
import type { Moto } from '../harness/index.ts';
import { spawnTracked } from '../harness/index.ts';

export const ROOT = path.resolve(import.meta.dirname, '../..');

export interface ArchivedLine {
  key: string;
  entryId: string;
  line: string;
}

/** A keeper in this process; its stdout lines are kept in `out`. */
export interface InProcessKeeper {
  handle: RoleHandle<unknown>;
  out: string[];
  stop(): Promise<void>;
}

export async function startKeeper(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<InProcessKeeper> {
  const out: string[] = [];
  const handle = await startRole(keeperRole, argv, {
    env: { ...env },
    stdout: { write: (s: string) => out.push(s) },
  });
  let stopped = false;
  return {
    handle: handle as RoleHandle<unknown>,
    out,
    async stop() {
      if (stopped) return;
      stopped = true;
      await handle.stop('test done');
    },
  };
}

/** A keeper as a real process (bin/keeper.mjs), for SIGKILL. */
export function spawnKeeper(args: string[], env: Record<string, string>, name = 'keeper') {
  return spawnTracked(process.execPath, [path.join(ROOT, 'bin/keeper.mjs'), ...args], {
    env: { ...process.env, ...env },
    cwd: ROOT,
    name,
  });
}

/** XADD entries exactly as the runtime's log sink does (role, id, host, level, line). */
export async function xaddLines(
  redis: Redis,
  keys: RedisContract,
  src: { role: string; id: string; host: string },
  lines: string[],
  level = 'info',
): Promise<string[]> {
  const p = redis.pipeline();
  for (const line of lines) {
    p.xadd(
      keys.logStream,
      'MAXLEN',
      '~',
      LOG_STREAM_MAXLEN,
      '*',
      'role',
      src.role,
      'id',
      src.id,
      'host',
      src.host,
      'level',
      level,
      'line',
      line,
    );
  }
  const res = await p.exec();
  return (res ?? []).map(([err, id]) => {
    if (err) throw err;
    return String(id);
  });
}

export function s3Client(moto: Moto): S3Client {
  return new S3Client(moto.clientConfig);
}

export async function createBucket(moto: Moto, bucket: string): Promise<void> {
  const s3 = s3Client(moto);
  try {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  } finally {
    s3.destroy();
  }
}

export async function listKeys(s3: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const r = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    for (const o of r.Contents ?? []) if (o.Key) keys.push(o.Key);
    token = r.IsTruncated ? r.NextContinuationToken : undefined;
  } while (token);
  return keys;
}

export async function getObject(s3: S3Client, bucket: string, key: string): Promise<Buffer> {
  const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await r.Body!.transformToByteArray());
}

/** Every archived line under s3://bucket/prefix/logs/, with the object it came from. */
export async function readS3Archive(moto: Moto, bucket: string, prefix: string): Promise<ArchivedLine[]> {
  const s3 = s3Client(moto);
  try {
    const out: ArchivedLine[] = [];
    for (const key of await listKeys(s3, bucket, `${prefix}/logs/`)) {
      for (const l of await readObject(await getObject(s3, bucket, key))) out.push({ key, ...l });
    }
    return out;
  } finally {
    s3.destroy();
  }
}

/** Every archived line under DIR/logs/. */
export async function readDirArchive(dir: string): Promise<ArchivedLine[]> {
  const out: ArchivedLine[] = [];
  const base = path.join(dir, 'logs');
  if (!fs.existsSync(base)) return out;
  const files = (fs.readdirSync(base, { recursive: true }) as string[]).filter((f) =>
    f.endsWith('.ndjson.gz'),
  );
  for (const f of files) {
    for (const l of await readObject(fs.readFileSync(path.join(base, f)))) out.push({ key: f, ...l });
  }
  return out;
}

/** Stream entry ids compare as (ms, seq). */
export function compareIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(Number) as [number, number];
  const [bm, bs] = b.split('-').map(Number) as [number, number];
  return am - bm || as - bs;
}

/** One copy per entry id, in stream order. */
export function uniqueByEntry(lines: ArchivedLine[]): ArchivedLine[] {
  const seen = new Map<string, ArchivedLine>();
  for (const l of lines) if (!seen.has(l.entryId)) seen.set(l.entryId, l);
  return [...seen.values()].sort((a, b) => compareIds(a.entryId, b.entryId));
}

export async function pendingCount(redis: Redis, keys: RedisContract, group = 'keepers'): Promise<number> {
  const r = (await redis.call('XPENDING', keys.logStream, group)) as unknown[];
  return Number(r[0] ?? 0);
}
