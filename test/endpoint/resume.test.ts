// Protocol 1.1 against a real endpoint and redis-server: negotiation, offsets and epochs on post_tweet, resume
// with `since` (exactly the missed tweets, then live, no duplicate and no gap at the seam, also with a publisher
// at full speed), an epoch change (history flushed) answered with the latest tweets, hostile `since` values,
// and set_movies filled from the catalog while the ranking is empty.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServerMessage } from '../../protocol/messages.ts';
import { type RedisServer, startRedis } from '../harness/index.ts';
import {
  freshPrefix,
  LineClient,
  MOVIES,
  Publisher,
  type StartedEndpoint,
  sleep,
  startEndpoint,
} from './helpers.ts';

let redis: RedisServer;
let ep: StartedEndpoint;
let pub: Publisher;
const clients: LineClient[] = [];

const HELLO_11 = { action: 'connect', params: { client: { app: 'test', version: '2.0' }, protocol: '1.1' } };
async function client11(): Promise<LineClient> {
  const c = await LineClient.connect(ep.port);
  clients.push(c);
  c.send(HELLO_11);
  await c.next('set_movies');
  return c;
}
type Tweet = Extract<ServerMessage, { action: 'post_tweet' }>;
type Started = Extract<ServerMessage, { action: 'feed_started' }>;
const startedOf = (c: LineClient, from = 0) =>
  c.messages.slice(from).filter((m): m is Started => m.action === 'feed_started');
/** The stream's ids after `after` (exclusive) up to `upTo` (inclusive). */
async function streamIds(movie: number, after: string, upTo: string): Promise<string[]> {
  const e = await pub.redis.xrange(pub.keys.movieHistory(movie), after, upTo);
  return e.map(([id]) => id).filter((id) => id !== after);
}

beforeAll(async () => {
  redis = await startRedis();
  const prefix = freshPrefix('resume');
  pub = new Publisher(redis.url, prefix);
  await pub.catalog(MOVIES);
  await pub.ranking([{ id: 1, title: 'Arrival', count: 5 }]);
  ep = await startEndpoint(redis.url, prefix, ['--sync', '300ms']);
});

afterAll(async () => {
  for (const c of clients) c.close();
  await ep?.stop();
  await pub?.close();
  await redis?.stop();
});

describe('negotiation', () => {
  it('"1.1" (or 1.1, or a higher 1.x) gets connected with the version spoken, then set_movies', async () => {
    for (const [asked, spoken] of [
      ['1.1', '1.1'],
      [1.1, '1.1'],
      ['1.9', '1.1'],
    ] as const) {
      const c = await LineClient.connect(ep.port);
      clients.push(c);
      c.send({ action: 'connect', params: { client: { app: 'a', version: '1' }, protocol: asked } });
      await c.next('set_movies');
      expect(c.messages[0]).toEqual({ action: 'connected', params: { protocol: spoken } });
      expect(c.messages[1]!.action).toBe('set_movies');
    }
  });

  it('1, "1.0" or nothing is 1.0: no connected; 2 or "1.x.y" is refused', async () => {
    for (const protocol of [1, '1.0', undefined]) {
      const c = await LineClient.connect(ep.port);
      clients.push(c);
      c.send({ action: 'connect', params: { client: { app: 'a', version: '1' }, protocol } });
      await c.next('set_movies');
      expect(c.messages.map((m) => m.action)).toEqual(['set_movies']);
    }
    for (const protocol of [2, '2.0', '1.1.1', 'one', true, { v: 1 }, 1.25]) {
      const c = await LineClient.connect(ep.port);
      clients.push(c);
      c.send({ action: 'connect', params: { client: { app: 'a', version: '1' }, protocol } });
      const e = await c.error('invalid_message');
      expect(e.params.message).toMatch(/^params\.protocol: unsupported protocol version/);
      expect(c.closed).toBe(false);
    }
  });
});

describe('offsets and resume', () => {
  it('post_tweet carries offset and epoch; a resume gets exactly the missed tweets, then live ones', async () => {
    await pub.publish(
      2,
      Array.from({ length: 30 }, (_, i) => pub.tweet(`h${i}`)),
    );
    const a = await client11();
    a.send({ action: 'start_feed', params: { movie_id: 2 } });
    await a.until(() => a.tweets().length === 20);
    const started = startedOf(a)[0]!;
    expect(started.params).toMatchObject({ movie_id: 2, resumed: false, history: 20 });
    expect(started.params.reason).toBeUndefined();
    const t = a.tweets();
    expect(t.map((x) => x.params.tweet.text)).toEqual(Array.from({ length: 20 }, (_, i) => `h${i + 10}`));
    const ids = await pub.redis.xrange(pub.keys.movieHistory(2), '-', '+');
    expect(t.map((x) => x.params.offset)).toEqual(ids.slice(10).map(([id]) => id));
    expect(new Set(t.map((x) => x.params.epoch))).toEqual(new Set([started.params.epoch]));
    const last = t[t.length - 1]!.params;
    a.close();

    // away: 7 tweets published
    await pub.publish(
      2,
      Array.from({ length: 7 }, (_, i) => pub.tweet(`missed ${i}`)),
    );
    const b = await client11();
    b.send({
      action: 'start_feed',
      params: { movie_id: 2, since: { offset: last.offset, epoch: last.epoch } },
    });
    await b.until(() => b.tweets().length === 7);
    expect(startedOf(b)[0]!.params).toEqual({ movie_id: 2, resumed: true, epoch: last.epoch, history: 7 });
    expect(b.tweets().map((x) => x.params.tweet.text)).toEqual(
      Array.from({ length: 7 }, (_, i) => `missed ${i}`),
    );
    await pub.publish(2, [pub.tweet('live')]);
    await b.until(() => b.tweets().length === 8);
    expect(b.tweets()[7]!.params.tweet.text).toBe('live');
    // the raw line: 1.0's bytes, then offset and epoch
    const raw = b.raw.find((l) => l.includes('"live"'))!;
    expect(raw).toMatch(/"user":\{[^}]*\}\},"offset":"\d+-\d+","epoch":"[A-Za-z0-9_-]{16}"\}\}$/);

    // a resume from the newest offset: nothing missed, resumed with no history
    const newest = b.tweets()[7]!.params;
    const c = await client11();
    c.send({
      action: 'start_feed',
      params: { movie_id: 2, since: { offset: newest.offset, epoch: newest.epoch } },
    });
    const s = await c.next('feed_started');
    expect(s.params).toMatchObject({ resumed: true, history: 0 });
    c.send({ action: 'ping', params: { id: 1 } });
    await c.next('pong');
    expect(c.tweets()).toHaveLength(0);
  });

  it('epoch change: the history flushed between disconnect and resume → not resumed, the latest N instead', async () => {
    await pub.publish(
      3,
      Array.from({ length: 5 }, (_, i) => pub.tweet(`before ${i}`)),
    );
    const a = await client11();
    a.send({ action: 'start_feed', params: { movie_id: 3 } });
    await a.until(() => a.tweets().length === 5);
    const last = a.tweets()[4]!.params;
    a.close();
    await pub.redis.del(pub.keys.movieHistory(3)); // flushed
    await pub.publish(
      3,
      Array.from({ length: 25 }, (_, i) => pub.tweet(`after ${i}`)),
    );
    const b = await client11();
    b.send({
      action: 'start_feed',
      params: { movie_id: 3, since: { offset: last.offset, epoch: last.epoch } },
    });
    await b.until(() => b.tweets().length === 20);
    const s = startedOf(b)[0]!.params;
    expect(s).toMatchObject({ movie_id: 3, resumed: false, reason: 'epoch_changed', history: 20 });
    expect(s.epoch).not.toBe(last.epoch);
    expect(b.tweets().map((x) => x.params.tweet.text)).toEqual(
      Array.from({ length: 20 }, (_, i) => `after ${i + 5}`),
    );
    expect(new Set(b.tweets().map((x) => x.params.epoch))).toEqual(new Set([s.epoch]));

    // same epoch, an offset no longer (or never) in the history: offset_not_found, latest N
    const c = await client11();
    c.send({ action: 'start_feed', params: { movie_id: 3, since: { offset: '1-0', epoch: s.epoch! } } });
    await c.until(() => c.tweets().length === 20);
    expect(startedOf(c)[0]!.params).toMatchObject({ resumed: false, reason: 'offset_not_found' });
  });

  it('the seam: with a publisher at full speed, every resume gets each tweet after its offset exactly once', async () => {
    const movie = 1;
    let stop = false;
    let published = 0;
    const publisher = (async () => {
      while (!stop) {
        await pub.publish(
          movie,
          Array.from({ length: 20 }, () => pub.tweet()),
        );
        published += 20;
      }
    })();
    try {
      await sleep(100);
      const ROUNDS = 60;
      for (let round = 0; round < ROUNDS; round++) {
        if (round % 3 === 2) {
          // a 1.0 client: the latest 20, then live ones, a contiguous run of the stream (no seam repeats)
          const c = await LineClient.connect(ep.port);
          clients.push(c);
          c.hello();
          c.send({ action: 'start_feed', params: { movie_id: movie } });
          await c.until(() => c.tweets().length >= 60, 10_000, '60 tweets');
          c.close();
          const got = c.tweets().map((t: Tweet) => t.params.tweet.id);
          expect(c.tweets().every((t: Tweet) => t.params.offset === undefined)).toBe(true);
          const stream = (await pub.redis.xrange(pub.keys.movieHistory(movie), '-', '+')).map(
            ([, f]) => (JSON.parse(f[1]!) as { params: { tweet: { id: string } } }).params.tweet.id,
          );
          const from = stream.indexOf(got[0]!);
          expect(got, `round ${round} (1.0)`).toEqual(stream.slice(from, from + got.length));
          continue;
        }
        // resume from a recent offset: the history read runs while tweets keep coming
        const [[since, fields]] = (await pub.redis.xrevrange(
          pub.keys.movieHistory(movie),
          '+',
          '-',
          'COUNT',
          1,
        )) as [[string, string[]]];
        const epoch = fields[fields.indexOf('e') + 1]!;
        const c = await client11();
        c.send({ action: 'start_feed', params: { movie_id: movie, since: { offset: since, epoch } } });
        await c.until(() => c.tweets().length >= 60, 10_000, '60 tweets');
        c.close();
        const got = c.tweets().map((t: Tweet) => t.params.offset!);
        const want = await streamIds(movie, since, got[got.length - 1]!);
        expect(startedOf(c)[0]!.params.resumed, `round ${round}`).toBe(true);
        expect(got, `round ${round}: no duplicate, no gap`).toEqual(want);
      }
      expect(published).toBeGreaterThan(ROUNDS * 60);
    } finally {
      stop = true;
      await publisher;
    }
  });
});

describe('hostile since', () => {
  it('bad since values get invalid_message naming the field; the connection stays', async () => {
    const c = await client11();
    const bad: Array<[unknown, RegExp]> = [
      ['x', /^params\.since: /],
      [null, /^params\.since: /],
      [{}, /^params\.since\.offset: /],
      [{ offset: 5, epoch: 'e' }, /^params\.since\.offset: /],
      [{ offset: '99999999999999999999-0', epoch: 'e' }, /^params\.since\.offset: must be an offset/],
      [{ offset: `${'9'.repeat(5000)}-0`, epoch: 'e' }, /^params\.since\.offset: /],
      [{ offset: '01-0', epoch: 'e' }, /^params\.since\.offset: /],
      [{ offset: '1-0', epoch: '' }, /^params\.since\.epoch: /],
      [{ offset: '1-0', epoch: 'a"b' }, /^params\.since\.epoch: /],
      [{ offset: '1-0', epoch: 'e'.repeat(65) }, /^params\.since\.epoch: /],
      [{ offset: '1-0', epoch: 'e', extra: 1 }, /^params\.since: /],
      [[1, 2], /^params\.since: /],
    ];
    for (const [since] of bad) c.send({ action: 'start_feed', params: { movie_id: 1, since } });
    c.send({ action: 'ping', params: { id: 'alive' } });
    await c.next('pong');
    const errors = c.messages.filter((m) => m.action === 'error');
    expect(errors).toHaveLength(bad.length);
    errors.forEach((e, i) => {
      if (e.action !== 'error') return;
      expect(e.params.code).toBe('invalid_message');
      expect(e.params.action).toBe('start_feed');
      expect(e.params.message, JSON.stringify(bad[i]![0]).slice(0, 50)).toMatch(bad[i]![1]);
    });
    expect(startedOf(c)).toHaveLength(0);
    // the largest valid offset is fine: not found, latest N
    c.send({
      action: 'start_feed',
      params: { movie_id: 1, since: { offset: '18446744073709551615-18446744073709551615', epoch: 'e' } },
    });
    const s = await c.next('feed_started');
    expect(s.params.resumed).toBe(false);
    expect(c.closed).toBe(false);
  });
});

describe('set_movies from the catalog', () => {
  it('with an empty ranking, set_movies lists catalog movies with count 0, up to --movies-shown', async () => {
    const prefix = freshPrefix('fill');
    const p = new Publisher(redis.url, prefix);
    await p.catalog(MOVIES);
    const e = await startEndpoint(redis.url, prefix, ['--movies-shown', '2', '--sync', '200ms']);
    try {
      const c = await LineClient.connect(e.port);
      clients.push(c);
      c.hello();
      const m = await c.next('set_movies');
      expect(m.params.movies).toEqual([
        { id: 1, title: 'Arrival', count: 0 },
        { id: 2, title: 'Heat', count: 0 },
      ]);
      // a ranking arrives: the ranked first, then the fill
      await p.ranking([{ id: 3, title: 'Alien', count: 4 }]);
      await c.until((ms) => ms.filter((x) => x.action === 'set_movies').length === 2);
      const next = c.messages.filter((x) => x.action === 'set_movies')[1]!;
      expect(next.action === 'set_movies' && next.params.movies).toEqual([
        { id: 3, title: 'Alien', count: 4 },
        { id: 1, title: 'Arrival', count: 0 },
      ]);
    } finally {
      await e.stop();
      await p.close();
    }
  });
});
