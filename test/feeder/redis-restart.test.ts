// A Redis restart that loses everything (SIGKILL, no persistence) under a running fleet of real processes
// (feeder, endpoint, keeper): each role writes the shared state it owns again when its connection is ready
// again — the feeder its catalog and ranking, every role its heartbeat, the keeper its consumer group — so
// within 10 s a new client gets a non-empty set_movies and start_feed works, with no role restarted.
import type { ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServerMessage } from '../../protocol/messages.ts';
import { KEEPER_GROUP, redisContract } from '../../protocol/redis-contract.ts';
import {
  isRunning,
  killTracked,
  makeTempDir,
  type RedisServer,
  spawnRole,
  startRedis,
  waitFor,
  waitForLine,
} from '../harness/index.ts';
import { LineClient } from '../endpoint/helpers.ts';
import { TEST_CATALOG } from './helpers.ts';

let redis: RedisServer;
const procs: ChildProcess[] = [];
const prefix = 'rr:';
const keys = redisContract(prefix);

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  for (const p of procs) await killTracked(p).catch(() => {});
  await redis?.stop();
});

function role(name: 'feeder' | 'endpoint' | 'keeper', args: string[]): ChildProcess {
  const p = spawnRole(name, { redisUrl: redis.url, prefix, id: `rr-${name}`, args });
  procs.push(p);
  return p;
}

/** A fresh client: connect, the set_movies it gets, and whether start_feed on its first movie is accepted. */
async function probe(port: number): Promise<{ movies: number; feedError?: string }> {
  const c = await LineClient.connect(port);
  try {
    c.hello();
    const sm = (await c.next('set_movies', 0, 3000)) as Extract<ServerMessage, { action: 'set_movies' }>;
    const movies = sm.params.movies;
    if (!movies.length) return { movies: 0 };
    const from = c.messages.length;
    c.send({ action: 'start_feed', params: { movie_id: movies[0]!.id } });
    c.send({ action: 'ping' });
    await c.next('pong', from, 3000);
    const err = c.messages.slice(from).find((m) => m.action === 'error') as
      | Extract<ServerMessage, { action: 'error' }>
      | undefined;
    return { movies: movies.length, feedError: err?.params.code };
  } finally {
    c.close();
  }
}

describe('Redis restarted empty under a running fleet', () => {
  it('the catalog, ranking, heartbeats and consumer group come back by themselves; start_feed works', async () => {
    const feeder = role('feeder', ['--source', 'synthetic', '--rate', '20', '--catalog', TEST_CATALOG]);
    const endpoint = role('endpoint', ['--host', '127.0.0.1', '--port', '0']);
    const keeper = role('keeper', ['--archive', `file://${makeTempDir('rr-archive')}`, '--flush', '500ms']);
    const listening = await waitForLine(endpoint, /"msg":"listening"/, 20_000);
    const port = (JSON.parse(listening) as { port: number }).port;
    await waitForLine(keeper, /keeper running/, 20_000);
    await waitForLine(feeder, /catalog loaded/, 20_000);
    const c = new Redis(redis.url, { maxRetriesPerRequest: null });
    try {
      let before: Awaited<ReturnType<typeof probe>> = { movies: 0 };
      await waitFor(
        async () => (before = await probe(port)).movies > 0,
        20_000,
        'a ranking before the restart',
      );
      expect(before.feedError).toBeUndefined();

      // everything in Redis is lost: SIGKILL, and the harness's redis-server never saves. (The catalog may be
      // back already by the time we look — the feeder is quick — so a marker of the test's proves the loss.)
      await c.set('rr-test-marker', '1');
      await redis.kill();
      await redis.start();
      expect(await c.exists('rr-test-marker')).toBe(0);

      let after: Awaited<ReturnType<typeof probe>> = { movies: 0 };
      await waitFor(
        async () => {
          after = await probe(port);
          return after.movies > 0 && after.feedError === undefined;
        },
        10_000,
        'set_movies and start_feed working again',
      );
      // The endpoint keeps its own copy of the catalog (issue 12), so the probe can pass before the feeder has
      // written Redis again: wait for the feeder's rewrite rather than assume it came first.
      await waitFor(
        async () => (await c.hlen(keys.catalog)) > 0 && (await c.exists(keys.ranking)) === 1,
        10_000,
        'the feeder writes the catalog and ranking again',
      );
      // heartbeats are back without waiting for a timer, and the keeper's group exists again
      await waitFor(
        async () =>
          (await c.exists(
            keys.heartbeat('feeder', 'rr-feeder'),
            keys.heartbeat('endpoint', 'rr-endpoint'),
            keys.heartbeat('keeper', 'rr-keeper'),
          )) === 3,
        10_000,
        'the three heartbeats',
      );
      const groups = (await c.call('XINFO', 'GROUPS', keys.logStream)) as unknown[][];
      expect(groups.map((g) => String(g[1]))).toContain(KEEPER_GROUP);
      // no role was restarted
      for (const p of [feeder, endpoint, keeper]) expect(isRunning(p)).toBe(true);
    } finally {
      c.disconnect();
    }
  }, 90_000);
});
