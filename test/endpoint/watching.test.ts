// `watching` in set_movies across two real endpoints sharing a real redis-server: clients on feeds of both,
// one switching feeds, one leaving, an endpoint stopping; 1.0 clients get set_movies without it.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { ServerMessage } from '../../protocol/messages.ts';
import { readWatching } from '../../protocol/watching.ts';
import { type RedisServer, startRedis } from '../harness/index.ts';
import {
  freshPrefix,
  LineClient,
  MOVIES,
  Publisher,
  type StartedEndpoint,
  startEndpoint,
} from './helpers.ts';

const SYNC_MS = 300;
let redis: RedisServer;
let pub: Publisher;
let a: StartedEndpoint;
let b: StartedEndpoint;
const clients: LineClient[] = [];

type SetMovies = Extract<ServerMessage, { action: 'set_movies' }>;
const watchingOf = (m: SetMovies) => Object.fromEntries(m.params.movies.map((x) => [x.id, x.watching]));

async function client(ep: StartedEndpoint, movie: number | null, protocol = '1.1'): Promise<LineClient> {
  const c = await LineClient.connect(ep.port);
  clients.push(c);
  c.send({ action: 'connect', params: { client: { app: 'test', version: '2' }, protocol } });
  await c.next('set_movies');
  if (movie !== null) c.send({ action: 'start_feed', params: { movie_id: movie } });
  return c;
}

/** Wait until the last set_movies `c` got says `want` (movie id → watching). Each endpoint's counts are at
 * most one sync period old when another reads them: a few periods is plenty. */
async function sees(c: LineClient, want: Record<number, number>, ms = 10 * SYNC_MS): Promise<void> {
  await c.until(
    (msgs) => {
      const last = msgs.filter((m): m is SetMovies => m.action === 'set_movies').at(-1);
      return !!last && JSON.stringify(watchingOf(last)) === JSON.stringify(want);
    },
    ms,
    `watching ${JSON.stringify(want)}`,
  );
}

beforeAll(async () => {
  redis = await startRedis();
  const prefix = freshPrefix('watching');
  pub = new Publisher(redis.url, prefix);
  await pub.catalog(MOVIES);
  await pub.ranking([{ id: 1, title: 'Arrival', count: 5 }]);
  const args = ['--sync', `${SYNC_MS}ms`];
  [a, b] = await Promise.all([
    startEndpoint(redis.url, prefix, args),
    startEndpoint(redis.url, prefix, args),
  ]);
});

afterAll(async () => {
  for (const c of clients) c.close();
  await Promise.all([a?.stop(), b?.stop()]);
  await pub?.close();
  await redis?.stop();
});

it('sums the clients of both endpoints per movie, follows a feed switch and a leave; 1.0 bytes unchanged', async () => {
  const watcherA = await client(a, null);
  const watcherB = await client(b, null);
  await Promise.all([client(a, 1), client(a, 1), client(b, 1), client(b, 2)]);
  const switcher = await client(b, 1);
  const old = await client(a, 2, '1.0');
  // movie 1: 2 on a + 2 on b; movie 2: 1 on b + the 1.0 client on a (every version counts)
  await Promise.all([sees(watcherA, { 1: 4, 2: 2, 3: 0 }), sees(watcherB, { 1: 4, 2: 2, 3: 0 })]);

  switcher.send({ action: 'start_feed', params: { movie_id: 3 } });
  await Promise.all([sees(watcherA, { 1: 3, 2: 2, 3: 1 }), sees(watcherB, { 1: 3, 2: 2, 3: 1 })]);
  switcher.send({ action: 'stop_feed' });
  await sees(watcherA, { 1: 3, 2: 2, 3: 0 });
  old.close();
  await sees(watcherB, { 1: 3, 2: 1, 3: 0 });
  // what God's dashboard reads (the Movies pane) is the same sum
  expect(Object.fromEntries(await readWatching(pub.redis, pub.keys))).toEqual({ 1: 3, 2: 1 });

  // the 1.0 client never got a watching field, and its set_movies are the 1.0 bytes
  expect(old.raw.filter((l) => l.includes('"set_movies"')).every((l) => !l.includes('watching'))).toBe(true);
  expect(old.raw[0]).toMatch(
    /^\{"action":"set_movies","params":\{"movies":\[\{"id":1,"title":"Arrival","count":5\},/,
  );

  // an endpoint that stops: its clients are no longer counted
  await b.stop();
  await sees(watcherA, { 1: 2, 2: 0, 3: 0 });
});
