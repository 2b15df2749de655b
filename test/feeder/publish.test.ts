// Publishing against a real redis-server: each matched tweet once per movie on its channel and in its
// capped history (the ready wire line of post_tweet), the catalog in Redis, bad lines counted and logged
// (never fatal), and a Redis restart in the middle of a stream: no crash, publishing resumes.
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { parseServerMessage } from '../../protocol/messages.ts';
import { HISTORY_FIELDS, redisContract } from '../../protocol/redis-contract.ts';
import { startRedis, useRedis, useRedisClient, waitFor } from '../harness/index.ts';
import { makeFeeder, startFeederRole, subscribe, TEST_CATALOG, v1Tweet, v2Tweet } from './helpers.ts';

const redis = useRedis();
const client = useRedisClient(redis);

describe.each(['resp', 'commands', 'script'] as const)('publishing (%s)', (mode) => {
  it('publishes each matched tweet once per movie, as the post_tweet wire line, and keeps the history', async () => {
    const keys = redisContract(`pub-${mode}:`);
    const f = makeFeeder(redis().url, keys, undefined, { publishMode: mode });
    const sub = await subscribe(redis().url, [
      keys.movieChannel(1),
      keys.movieChannel(9),
      keys.movieChannel(2),
    ]);
    await f.feeder.start();
    try {
      expect(Object.keys(await client().hgetall(keys.catalog)).length).toBe(20);
      expect(JSON.parse((await client().hget(keys.catalog, '9'))!)).toEqual({
        id: 9,
        title: 'Man of Steel',
        year: 2013,
      });

      f.feeder.ingest(
        v2Tweet('Gravity and #ManOfSteel this weekend, what a movie double feature', {
          id: '100',
          user: 'ann',
        }),
      );
      f.feeder.ingest(v1Tweet('Just saw Gravity in IMAX', '101'));
      f.feeder.ingest(v2Tweet('nothing to see here, I love her', { id: '102' }));
      await waitFor(() => sub.got.length === 3, 5000, 'three publications');
      const lines = sub.got.map((g) => ({ channel: g.channel, msg: JSON.parse(g.message.toString()) }));
      expect(lines.map((l) => [l.channel, l.msg.params.movie_id, l.msg.params.tweet.id])).toEqual([
        [keys.movieChannel(1), 1, '100'],
        [keys.movieChannel(9), 9, '100'],
        [keys.movieChannel(1), 1, '101'],
      ]);
      for (const g of sub.got) {
        expect(g.message.toString().endsWith('\n')).toBe(true);
        expect(parseServerMessage(JSON.parse(g.message.toString())).ok).toBe(true);
      }
      expect(lines[0].msg.params.tweet).toEqual({
        id: '100',
        text: 'Gravity and #ManOfSteel this weekend, what a movie double feature',
        created_at: expect.any(String),
        user: { name: 'Fan ann', screen_name: 'ann' },
      });
      expect(lines[2].msg.params.tweet.user).toEqual({ name: 'Old API Fan', screen_name: 'old_api_fan' });

      // history: the 1.0 lines, oldest first, each entry's id the offset of its channel message
      const history = await client().xrange(keys.movieHistory(1), '-', '+');
      expect(
        history.map(([id, f]) => `${f[f.indexOf(HISTORY_FIELDS.line) + 1]!.slice(0, -3)},"offset":"${id}"`),
      ).toEqual(
        [sub.got[0], sub.got[2]].map((g) => g.message.toString().replace(/,"epoch":"[^"]+"\}\}\n$/, '')),
      );
      expect(await client().ttl(keys.movieHistory(1))).toBeGreaterThan(3600);

      for (let i = 0; i < 65; i++) f.feeder.ingest(v2Tweet(`#Rush lap ${i}`, { id: `r${i}` }));
      await waitFor(async () => (await client().xlen(keys.movieHistory(3))) === 65, 5000, 'r64');
      expect(f.feeder.publisher.published).toBe(3 + 65);
    } finally {
      sub.close();
      await f.close();
    }
  });

  it('counts and logs bad lines and goes on', async () => {
    const keys = redisContract(`bad-${mode}:`);
    const f = makeFeeder(redis().url, keys);
    await f.feeder.start();
    try {
      f.feeder.ingestLine('{"data": {"id": "1", "text": "Frozen soundtrack on repeat"');
      f.feeder.ingestLine('[1, 2, 3]');
      f.feeder.ingestLine('{"errors": [{"title": "operational-disconnect"}]}');
      f.feeder.ingestLine(JSON.stringify(v2Tweet('Frozen soundtrack on repeat', { id: 'ok-1' })));
      expect(f.feeder.badLines).toBe(3);
      expect(f.feeder.tweets).toBe(1);
      await waitFor(async () => (await client().xlen(keys.movieHistory(4))) === 1, 5000, 'the good tweet');
      const logged = f.logs.map((l) => JSON.parse(l)).filter((l) => l.msg === 'skipped a bad tweet line');
      expect(logged.map((l) => l.reason)).toEqual([
        expect.stringMatching(/^not JSON/),
        'not a JSON object',
        'an error payload, not a tweet',
      ]);
      expect(f.feeder.gauges().bad_lines).toBe(3);
    } finally {
      await f.close();
    }
  });
});

describe.each([
  ['the default publish mode (resp)', []],
  // the script is gone from a restarted Redis: NOSCRIPT must load it again
  ['--publish-mode script', ['--publish-mode', 'script']],
])('Redis restart mid-stream, %s', (_name, modeArgs) => {
  it('keeps running, buffers (bounded, drops counted) and resumes publishing', async () => {
    const r = await startRedis();
    const watcher = new Redis(r.url, { maxRetriesPerRequest: null });
    watcher.on('error', () => {});
    const keys = redisContract('fg:');
    const feeder = await startFeederRole([
      '--redis',
      r.url,
      '--catalog',
      TEST_CATALOG,
      '--source',
      'synthetic',
      '--rate',
      '400',
      '--seed',
      '3',
      '--buffer-max',
      '150',
      '--ranking-interval',
      '100ms',
      ...modeArgs,
    ]);
    try {
      await waitFor(() => feeder.gauges().published_total > 50, 10_000, 'publishing before the restart');
      await r.restart({ downMs: 1500 });
      const atRestart = feeder.gauges().published_total;
      await waitFor(
        () => feeder.gauges().published_total > atRestart + 100,
        15_000,
        'publishing after the restart',
      );
      const g = feeder.gauges();
      expect(g.dropped).toBeGreaterThan(0); // 1.5 s at ~280 publications/s does not fit in 150
      expect(g.buffered).toBeLessThanOrEqual(150);
      // what was published after the restart is in Redis
      const ids = await watcher.hkeys(keys.catalog);
      expect(ids.length).toBe(20);
      await waitFor(async () => !!(await watcher.get(keys.ranking)), 5000, 'ranking written again');
      const log = feeder.out.join('');
      expect(log).toMatch(/redis connection lost/);
      if (modeArgs.length === 0) expect(log).toMatch(/publish connection lost/);
      expect(log).not.toMatch(/crashed/);
    } finally {
      watcher.disconnect();
      await feeder.stop();
      await r.stop();
    }
  });
});
