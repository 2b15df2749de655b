// The twitter source against a local server that streams like the API v2 filtered stream: rules generated
// from the catalog, packed within the limits, tagged and synced (stale ones deleted, others' kept, re-synced
// when the catalog file changes); reconnects after a 429 and after a dropped connection; keep-alive lines
// and bad lines; the bearer token never reaches a log line.
import fs from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisContract } from '../../protocol/redis-contract.ts';
import { StreamBackoff } from '../../roles/feeder/sources/backoff.ts';
import { packRules, termsFor } from '../../roles/feeder/sources/twitter-rules.ts';
import { makeTempDir, type RedisServer, startRedis, waitFor } from '../harness/index.ts';
import { startFeederRole, subscribe, TEST_CATALOG, v2Tweet } from './helpers.ts';
import { startTwitterStub, type TwitterStub } from './twitter-stub.ts';

let redis: RedisServer;
let client: Redis;
let stub: TwitterStub;
beforeAll(async () => {
  [redis, stub] = await Promise.all([startRedis(), startTwitterStub('s3cret-bearer-token-xyz')]);
  client = new Redis(redis.url);
});
afterAll(async () => {
  client?.disconnect();
  await stub?.close();
  await redis?.stop();
});

describe('stream rules', () => {
  it('are packed within the length and count limits, and say what did not fit', () => {
    const catalog = JSON.parse(
      fs.readFileSync(path.join(import.meta.dirname, '../../data/movies.json'), 'utf8'),
    );
    const terms = termsFor(catalog);
    const { rules, left } = packRules(terms, { maxLength: 512, maxRules: 1000, tag: 'fg' });
    expect(left).toBe(0);
    for (const r of rules) expect(r.value.length).toBeLessThanOrEqual(512);
    const packed = rules.map((r) => ` OR ${r.value} OR `).join('');
    expect(terms.filter((t) => !packed.includes(` OR ${t} OR `))).toEqual([]);
    expect(terms).toContain('"the dark knight"');
    expect(terms).toContain('#TheDarkKnight');
    // everyday-word titles are followed only together with a movie word
    expect(terms).toContain('(her (movie OR film OR trailer))');
    const few = packRules(terms, { maxLength: 512, maxRules: 10, tag: 'fg' });
    expect(few.rules.length).toBe(10);
    expect(few.left).toBeGreaterThan(0);
  });

  it('backoff follows what Twitter asks for', () => {
    const b = new StreamBackoff();
    expect([1, 2, 3].map(() => b.next('network'))).toEqual([250, 500, 750]);
    expect(Array.from({ length: 70 }, () => b.next('network')).at(-1)).toBe(16_000);
    expect([1, 2, 3].map(() => b.next('http'))).toEqual([5_000, 10_000, 20_000]);
    expect(Array.from({ length: 10 }, () => b.next('http')).at(-1)).toBe(320_000);
    expect([1, 2].map(() => b.next('rate_limit'))).toEqual([60_000, 120_000]);
    b.reset();
    expect(b.next('http')).toBe(5_000);
    expect(new StreamBackoff(0.01).next('rate_limit')).toBe(600);
  });
});

describe('twitter source (local stream server)', () => {
  it('syncs rules, reconnects after 429 and a dropped connection, publishes, re-syncs on catalog change', async () => {
    const dir = makeTempDir('feeder-twitter');
    const catalogFile = path.join(dir, 'catalog.json');
    const catalog = JSON.parse(fs.readFileSync(TEST_CATALOG, 'utf8'));
    fs.writeFileSync(catalogFile, JSON.stringify(catalog));
    // an old rule of ours (stale) and a rule of someone else's on the same app
    stub.rules.set('1', { id: '1', value: '"some old movie"', tag: 'fg-test' });
    stub.rules.set('2', { id: '2', value: 'cats', tag: 'someone-else' });
    stub.script.push(
      { status: 429 },
      {
        lines: [JSON.stringify(v2Tweet('Just saw Gravity in IMAX', { id: 't1' })), '{"data": broken'],
        after: 'close',
      },
      { status: 503 },
      {
        lines: [JSON.stringify(v2Tweet('#ManOfSteel tonight', { id: 't2' }))],
        after: 'stay',
        keepAliveMs: 100,
      },
    );
    const keys = redisContract('tw:');
    const sub = await subscribe(redis.url, [
      keys.movieChannel(1),
      keys.movieChannel(9),
      keys.movieChannel(21),
    ]);
    const f = await startFeederRole(
      [
        '--redis',
        redis.url,
        '--prefix',
        'tw:',
        '--catalog',
        catalogFile,
        '--catalog-poll',
        '100ms',
        '--source',
        'twitter',
        '--twitter-api-url',
        stub.url,
        '--twitter-rule-tag',
        'fg-test',
        '--twitter-rule-max-length',
        '60',
        '--twitter-backoff-scale',
        '0.002',
      ],
      { env: { TWITTER_BEARER_TOKEN: stub.token } },
    );
    try {
      // rules: ours match the catalog, each within 60 chars; the stale one is gone, the other app's kept
      await waitFor(() => stub.connections.length >= 1, 10_000, 'a stream connection');
      const ours = [...stub.rules.values()].filter((r) => r.tag === 'fg-test');
      const want = packRules(termsFor(catalog), { maxLength: 60, maxRules: 1000, tag: 'fg-test' }).rules;
      expect(ours.map((r) => r.value).sort()).toEqual(want.map((r) => r.value).sort());
      for (const r of ours) expect(r.value.length).toBeLessThanOrEqual(60);
      expect(stub.rules.has('1')).toBe(false);
      expect(stub.rules.get('2')?.value).toBe('cats');

      // 429 → (1 min × 0.002) → stream, dropped → 503 → stream that stays
      await waitFor(() => sub.got.length === 2, 15_000, 'tweets from both connections');
      expect(stub.connections.map((c) => c.status)).toEqual([429, 200, 503, 200]);
      expect(sub.got.map((g) => JSON.parse(g.message.toString()).params.tweet.id)).toEqual(['t1', 't2']);
      // waited at least the scaled 429 backoff (60 s × 0.002) before the second attempt
      expect(stub.connections[1].at - stub.connections[0].at).toBeGreaterThanOrEqual(100);
      const g = f.gauges();
      expect(g.bad_lines).toBe(1);
      expect(g.reconnects).toBe(3);
      expect(g.stream_connected).toBe(1);

      // live tweets on the open connection
      stub.push(JSON.stringify(v2Tweet('Frozen premiere tonight, and 42 trailer', { id: 't3' })));
      stub.push('');
      await waitFor(async () => (await client.xlen(keys.movieHistory(4))) === 1, 5000, 'Frozen tweet');
      expect(await client.xlen(keys.movieHistory(5))).toBe(1);

      // the catalog file changes: rules follow, matching follows
      const requestsBefore = stub.ruleRequests.length;
      fs.writeFileSync(
        catalogFile,
        JSON.stringify([...catalog, { id: 21, title: 'Pacific Rim', year: 2013 }]),
      );
      await waitFor(
        () => [...stub.rules.values()].some((r) => r.tag === 'fg-test' && r.value.includes('"pacific rim"')),
        10_000,
        'a rule for the new movie',
      );
      expect(stub.ruleRequests.length).toBeGreaterThan(requestsBefore);
      await waitFor(async () => (await client.hlen(keys.catalog)) === 21, 5000, 'catalog in Redis');
      stub.push(JSON.stringify(v2Tweet('#PacificRim was so much fun', { id: 't4' })));
      await waitFor(
        () => sub.got.some((x) => x.channel === keys.movieChannel(21)),
        5000,
        'the new movie published',
      );

      // the token is never logged
      const log = f.out.join('');
      expect(log).toMatch(/twitter stream connection failed/);
      expect(log).toMatch(/HTTP 429/);
      expect(log).not.toContain(stub.token);
    } finally {
      sub.close();
      await f.stop();
    }
  });

  it('refuses to start without a bearer token, saying where it comes from', async () => {
    await expect(
      startFeederRole(['--redis', redis.url, '--catalog', TEST_CATALOG, '--source', 'twitter'], { env: {} }),
    ).rejects.toThrow(/TWITTER_BEARER_TOKEN/);
  });
});
