// The client SDK resumes by itself: 300 clients (the count) on one endpoint at ≤ 100 tweets/s, tweets published all along; the endpoint drains
// (`reconnect` to another), then every client's connection is cut (backoff, reconnect through the draining
// endpoint's redirect). Each client's sequence of offsets equals the history stream's, from its first tweet to
// the last published: no gap, no duplicate.
import type net from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { FilmgrainClient } from '../../protocol/client/client.ts';
import { type RedisServer, startRedis, waitFor } from '../harness/index.ts';
import { freshPrefix, MOVIES, Publisher, type StartedEndpoint, sleep, startEndpoint } from './helpers.ts';

/** The drain test is 300 clients at 100 tweets/s; FG_TEST_SDK_CLIENTS sets the count (see the file
 * time in bench/RESULTS.md). */
const CLIENTS = Number(process.env.FG_TEST_SDK_CLIENTS ?? 300);
const MOVIE = 2;
let redis: RedisServer;
let a: StartedEndpoint;
let b: StartedEndpoint;
let pub: Publisher;
const clients: FilmgrainClient[] = [];

beforeAll(async () => {
  redis = await startRedis();
  const prefix = freshPrefix('sdk');
  pub = new Publisher(redis.url, prefix);
  await pub.catalog(MOVIES);
  a = await startEndpoint(redis.url, prefix, ['--drain-grace', '1s']);
  b = await startEndpoint(redis.url, prefix);
});

afterAll(async () => {
  for (const c of clients) c.close();
  await a?.stop();
  await b?.stop();
  await pub?.close();
  await redis?.stop();
});

it('after a drain and after a cut connection, every client has every tweet once, in order', async () => {
  const got: string[][] = [];
  const started: Array<Array<{ resumed: boolean }>> = [];
  for (let i = 0; i < CLIENTS; i++) {
    const c = new FilmgrainClient({
      endpoints: [{ host: '127.0.0.1', port: a.port, tls: false }],
      app: 'test',
      version: '1',
      backoff: { initialMs: 50, maxMs: 200 },
    });
    clients.push(c);
    got.push([]);
    started.push([]);
    c.on('post_tweet', (t) => got[i]!.push(t.offset!));
    c.on('feed_started', (s) => started[i]!.push(s));
    c.startFeed(MOVIE);
    await c.start();
  }
  let stop = false;
  const publisher = (async () => {
    while (!stop) {
      await pub.publish(MOVIE, [pub.tweet()]);
      await sleep(10); // ≤ 100 tweets/s
    }
  })();
  try {
    await waitFor(() => got.every((g) => g.length >= 20), 30_000, 'every client receiving');
    expect(clients.every((c) => c.protocol === '1.1')).toBe(true);
    await a.instance.server.drain();
    await waitFor(() => clients.every((c) => c.endpoint?.port === b.port && c.ready), 10_000, 'all on b');
    const before = got.map((g) => g.length);
    await waitFor(() => got.every((g, i) => g.length >= before[i]! + 20), 10_000, 'receiving on b');
    // cut every connection: the SDK backs off, comes back (a redirects to b) and resumes
    for (const c of clients) (c as unknown as { socket: net.Socket }).socket.destroy();
    await sleep(300);
    await waitFor(() => clients.every((c) => c.ready), 10_000, 'all back');
    const again = got.map((g) => g.length);
    await waitFor(() => got.every((g, i) => g.length >= again[i]! + 20), 10_000, 'receiving again');
  } finally {
    stop = true;
    await publisher;
  }
  const stream = (await pub.redis.xrange(pub.keys.movieHistory(MOVIE), '-', '+')).map(([id]) => id);
  const last = stream[stream.length - 1]!;
  await waitFor(() => got.every((g) => g[g.length - 1] === last), 10_000, 'the last tweet everywhere');
  for (let i = 0; i < CLIENTS; i++) {
    const from = stream.indexOf(got[i]![0]!);
    expect(from, `client ${i}'s first offset is in the stream`).toBeGreaterThanOrEqual(0);
    expect(got[i], `client ${i}: no gap, no duplicate`).toEqual(stream.slice(from));
    // the first start and two restores; both restores resumed
    expect(
      started[i]!.map((s) => s.resumed),
      `client ${i}`,
    ).toEqual([false, true, true]);
  }
}, 90_000);
