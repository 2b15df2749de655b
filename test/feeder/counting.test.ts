// The past-hour ranking with a test clock, against a real redis-server: per-minute buckets (with their TTL),
// a tweet counting for the 60 minute buckets that end with the current one, the ranking sliding as time
// moves on without new tweets, and a restarted feeder resuming the counts from Redis.
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { COUNT_BUCKET_TTL_S, redisContract } from '../../protocol/redis-contract.ts';
import { minuteOf } from '../../roles/feeder/counter.ts';
import { useRedis, useRedisClient, waitFor } from '../harness/index.ts';
import { makeFeeder, v2Tweet } from './helpers.ts';

const redis = useRedis();
const client = useRedisClient(redis);

const GRAVITY = 1;
const HER = 2;
const MIN = 60_000;

async function ranking(keys: ReturnType<typeof redisContract>) {
  const raw = await client().get(keys.ranking);
  return raw
    ? (JSON.parse(raw) as { movies: Array<{ id: number; title: string; count: number }>; at: string })
    : null;
}
const counts = (r: Awaited<ReturnType<typeof ranking>>) =>
  Object.fromEntries((r?.movies ?? []).map((m) => [m.id, m.count]));

describe('past-hour ranking', () => {
  it('slides: a tweet counts until its minute leaves the 60-minute window, also without new tweets', async () => {
    const keys = redisContract('win:');
    // 12:00:30 in some hour: half a minute into minute m0
    let now = Date.UTC(2026, 10, 22, 12, 0, 30);
    const m0 = minuteOf(now);
    const f = makeFeeder(redis().url, keys, undefined, { now: () => now, rankingIntervalMs: 20 });
    await f.feeder.start();
    try {
      f.feeder.ingest(v2Tweet('Just saw Gravity in IMAX'));
      now += MIN; // minute m0+1
      f.feeder.ingest(v2Tweet('Gravity (2013) again, still great'));
      f.feeder.ingest(v2Tweet('#Her and #Gravity tonight'));
      await waitFor(async () => counts(await ranking(keys))[GRAVITY] === 3, 5000, 'Gravity at 3');
      expect(counts(await ranking(keys))).toEqual({ [GRAVITY]: 3, [HER]: 1 });
      const r = await ranking(keys);
      expect(r?.movies[0]).toEqual({ id: GRAVITY, title: 'Gravity', count: 3 });
      expect(r?.at).toBe(new Date(now).toISOString());

      // the buckets in Redis: one hash per minute, with the contract's TTL
      await waitFor(
        async () => (await client().hget(keys.countBucket(m0 + 1), String(GRAVITY))) === '2',
        5000,
        'bucket',
      );
      expect(await client().hgetall(keys.countBucket(m0))).toEqual({ [GRAVITY]: '1' });
      expect(await client().hgetall(keys.countBucket(m0 + 1))).toEqual({ [GRAVITY]: '2', [HER]: '1' });
      const ttl = await client().ttl(keys.countBucket(m0));
      expect(ttl).toBeGreaterThan(COUNT_BUCKET_TTL_S - 10);
      expect(ttl).toBeLessThanOrEqual(COUNT_BUCKET_TTL_S);

      // the last second of minute m0+59: the tweet of minute m0 still counts (59.5 minutes after it)
      now = (m0 + 60) * MIN - 1;
      f.feeder.counter.advance();
      expect(Object.fromEntries(f.feeder.counter.totals)).toEqual({ [GRAVITY]: 3, [HER]: 1 });

      // minute m0+60 begins: minute m0 leaves the window; the ranking changes with no new tweet
      now = (m0 + 60) * MIN;
      await waitFor(async () => counts(await ranking(keys))[GRAVITY] === 2, 5000, 'Gravity down to 2');
      expect(counts(await ranking(keys))).toEqual({ [GRAVITY]: 2, [HER]: 1 });

      // minute m0+61: everything has left
      now = (m0 + 61) * MIN + 5_000;
      await waitFor(async () => (await ranking(keys))?.movies.length === 0, 5000, 'empty ranking');
    } finally {
      await f.close();
    }
  });

  it('a restarted feeder resumes the past hour from the Redis buckets', async () => {
    const keys = redisContract('resume:');
    let now = Date.UTC(2026, 10, 22, 15, 10, 0);
    const a = makeFeeder(redis().url, keys, undefined, { now: () => now, rankingIntervalMs: 20 });
    await a.feeder.start();
    for (let i = 0; i < 3; i++) a.feeder.ingest(v2Tweet('Frozen soundtrack on repeat'));
    now += 10 * MIN;
    a.feeder.ingest(v2Tweet('Took the kids to see Frozen'));
    await a.close(); // drains to Redis

    now += 20 * MIN;
    const b = makeFeeder(redis().url, keys, undefined, { now: () => now, rankingIntervalMs: 20 });
    await b.feeder.start();
    try {
      expect(counts(await ranking(keys))).toEqual({ 4: 4 });
      expect(b.logs.join('')).toMatch(/resumed the past hour of counts/);
      // 60 minutes after the first three: they leave, the later one stays
      now += 30 * MIN;
      await waitFor(async () => counts(await ranking(keys))[4] === 1, 5000, 'Frozen down to 1');
    } finally {
      await b.close();
    }
  });

  it('writes the ranking only when it changed', async () => {
    const keys = redisContract('quiet:');
    const now = Date.UTC(2026, 10, 22, 18, 0, 0);
    const f = makeFeeder(redis().url, keys, undefined, { now: () => now, rankingIntervalMs: 10 });
    const sub = new Redis(redis().url);
    const seen: string[] = [];
    sub.on('message', (_c, m) => seen.push(m));
    await sub.subscribe(keys.rankingChanged);
    await f.feeder.start();
    try {
      f.feeder.ingest(v2Tweet('#Epic was cute'));
      await waitFor(() => seen.length >= 2, 5000, 'ranking change after the tweet');
      await new Promise((r) => setTimeout(r, 300)); // ~30 ticks with nothing new
      expect(seen.length).toBe(2); // the start, and the tweet
    } finally {
      sub.disconnect();
      await f.close();
    }
  });
});
