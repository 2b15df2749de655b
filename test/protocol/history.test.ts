// The publish script against a real redis-server: the history stream is capped (MAXLEN ~ HISTORY_CAP), every
// entry carries the feed's epoch, the epoch survives trimming and changes when the stream is deleted, and each
// channel message's offset is its entry's id.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { HISTORY_CAP, HISTORY_FIELDS, redisContract } from '../../protocol/redis-contract.ts';
import { queueTweetBatch } from '../../protocol/redis-writes.ts';
import { type RedisServer, startRedis } from '../harness/index.ts';

let server: RedisServer;
let r: Redis;
beforeAll(async () => {
  server = await startRedis();
  r = new Redis(server.url);
});
afterAll(async () => {
  r?.disconnect();
  await server?.stop();
});

const keys = redisContract('hist:');
const tweet = (n: number) => ({
  id: String(n),
  text: `t ${n}`,
  created_at: '2024-10-26T12:00:00.000Z',
  user: { name: 'A', screen_name: 'a' },
});
async function publish(from: number, n: number): Promise<void> {
  const p = r.pipeline();
  queueTweetBatch(
    p,
    keys,
    Array.from({ length: n }, (_, i) => ({ movieId: 5, tweet: tweet(from + i) })),
  );
  const [[err]] = (await p.exec())!;
  expect(err).toBeNull();
}
const epochs = async () =>
  new Set(
    (await r.xrange(keys.movieHistory(5), '-', '+')).map(([, f]) => f[f.indexOf(HISTORY_FIELDS.epoch) + 1]),
  );

it('caps the history, keeps one epoch across trims, and starts a new one when the stream is gone', async () => {
  const sub = new Redis(server.url);
  const got: string[] = [];
  sub.on('message', (_c: string, m: string) => got.push(m));
  await sub.subscribe(keys.movieChannel(5));
  try {
    await publish(0, HISTORY_CAP + 300);
    await publish(HISTORY_CAP + 300, 10);
    const len = await r.xlen(keys.movieHistory(5));
    expect(len).toBeGreaterThanOrEqual(HISTORY_CAP);
    expect(len).toBeLessThanOrEqual(HISTORY_CAP + 100);
    const first = await epochs();
    expect(first.size).toBe(1);
    expect(await r.ttl(keys.movieHistory(5))).toBeGreaterThan(3600);
    // the newest entry's id is the offset of the last channel message
    const [[lastId]] = (await r.xrevrange(keys.movieHistory(5), '+', '-', 'COUNT', 1)) as [
      [string, string[]],
    ];
    await new Promise((res) => setTimeout(res, 100));
    expect(got).toHaveLength(HISTORY_CAP + 310);
    expect(got[got.length - 1]).toContain(`"offset":"${lastId}","epoch":"${[...first][0]}"}}\n`);

    await r.del(keys.movieHistory(5));
    await publish(5000, 3);
    const second = await epochs();
    expect(second.size).toBe(1);
    expect([...second][0]).not.toBe([...first][0]);
  } finally {
    sub.disconnect();
  }
});
