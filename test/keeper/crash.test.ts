// SIGKILL mid-batch: the keeper runs as a real process (bin/keeper.mjs) and is killed while it holds
// delivered, unacknowledged entries. Another keeper takes them over (dead consumer: no heartbeat), then that
// one is killed and restarted under the same id (its own pending entries are read again). Every line ends up
// archived; the only duplicates are at-least-once copies sharing an entry id.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEEPER_GROUP, redisContract } from '../../protocol/redis-contract.ts';
import {
  killTracked,
  makeTempDir,
  type Moto,
  type RedisServer,
  sleep,
  startMoto,
  startRedis,
  waitFor,
  waitForLine,
} from '../harness/index.ts';
import { createBucket, readS3Archive, spawnKeeper, xaddLines } from './helpers.ts';

let redis: RedisServer;
let moto: Moto;
let client: Redis;
const BUCKET = 'fg-crash';
const keys = redisContract('crash:');

beforeAll(async () => {
  [redis, moto] = await Promise.all([startRedis(), startMoto()]);
  client = new Redis(redis.url, { maxRetriesPerRequest: null });
  await createBucket(moto, BUCKET);
});
afterAll(async () => {
  client?.disconnect();
  await Promise.all([redis?.stop(), moto?.stop()]);
});

async function pendingOf(consumer: string): Promise<number> {
  const r = (await client.call('XPENDING', keys.logStream, KEEPER_GROUP)) as unknown[];
  const per = (r[3] ?? []) as Array<[string, string]>;
  return Number(per.find(([c]) => c === consumer)?.[1] ?? 0);
}

describe('keeper killed with SIGKILL', () => {
  it('loses nothing: the next keeper and the restarted one archive every line', async () => {
    const common = [
      '--redis',
      redis.url,
      '--prefix',
      'crash:',
      '--archive',
      `s3://${BUCKET}/crash`,
      '--flush',
      '300ms',
      '--batch',
      '200',
      '--claim-idle',
      '1s',
    ];
    const env = { ...moto.env, FG_LOG_LEVEL: 'info', XDG_STATE_HOME: makeTempDir('crash-state') };
    const src = { role: 'feeder', id: 'f-crash', host: 'host-c' };
    const produced: string[] = [];
    let n = 0;
    let producing = true;
    const producer = (async () => {
      while (producing) {
        const lines = Array.from({ length: 50 }, () => JSON.stringify({ level: 30, n: n++ }));
        produced.push(...(await xaddLines(client, keys, src, lines)));
        await sleep(25);
      }
    })();

    const first = spawnKeeper(
      [...common, '--id', 'kc1', '--spool-dir', makeTempDir('spool-kc1')],
      env,
      'kc1',
    );
    await waitForLine(first, /keeper running/, 60_000);
    await waitFor(
      async () => (await readS3Archive(moto, BUCKET, 'crash')).length > 0 && (await pendingOf('kc1')) > 0,
      60_000,
      'kc1 archived something and holds pending entries',
    );
    await killTracked(first, { signal: 'SIGKILL' });
    expect(await pendingOf('kc1'), 'kc1 died holding unacknowledged entries').toBeGreaterThan(0);

    // another keeper takes over kc1's pending entries once kc1's heartbeat has expired
    const spool2 = makeTempDir('spool-kc2');
    const second = spawnKeeper([...common, '--id', 'kc2', '--spool-dir', spool2], env, 'kc2');
    await waitForLine(
      second,
      /took over pending entries of a keeper that is gone.*"from":"kc1"|"from":"kc1".*took over/,
      60_000,
    );
    await waitFor(async () => (await pendingOf('kc2')) > 0, 10_000, 'kc2 holds pending entries');
    await killTracked(second, { signal: 'SIGKILL' });

    // the same keeper restarted under its id reads its own pending entries first
    const again = spawnKeeper([...common, '--id', 'kc2', '--spool-dir', spool2], env, 'kc2-again');
    await waitForLine(again, /keeper running/, 60_000);
    await sleep(500);
    producing = false;
    await producer;

    let archived: Awaited<ReturnType<typeof readS3Archive>> = [];
    await waitFor(
      async () => {
        archived = await readS3Archive(moto, BUCKET, 'crash');
        const ids = new Set(archived.map((a) => a.entryId));
        return produced.every((id) => ids.has(id));
      },
      60_000,
      `all ${produced.length} lines archived`,
    );
    await waitFor(async () => (await pendingOf('kc2')) === 0, 10_000, 'kc2 pending acknowledged');

    // duplicates only as copies of one entry (same id, same line); no line under two ids
    const mine = archived.filter((a) => a.line.includes('"n":'));
    const byId = new Map<string, Set<string>>();
    for (const a of mine) byId.set(a.entryId, (byId.get(a.entryId) ?? new Set()).add(a.line));
    for (const [id, lines] of byId) expect(lines.size, `copies of ${id} differ`).toBe(1);
    const idsByN = new Map<number, Set<string>>();
    for (const a of mine) {
      const v = (JSON.parse(a.line) as { n: number }).n;
      idsByN.set(v, (idsByN.get(v) ?? new Set()).add(a.entryId));
    }
    expect(idsByN.size).toBe(produced.length);
    for (const ids of idsByN.values()) expect(ids.size).toBe(1);
    expect([...byId.keys()].sort()).toEqual([...produced].sort());
    await killTracked(again);
  }, 120_000);
});
