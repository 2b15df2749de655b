// Several endpoints and one Redis: redirect above the soft limit, shed, drain on SIGTERM (real processes),
// and a Redis restart under live feeds.
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { redisContract } from '../../protocol/redis-contract.ts';
import { killTracked, spawnTracked, waitForExit, waitForLine } from '../harness/index.ts';
import {
  freshPrefix,
  suiteRedis,
  LineClient,
  MOVIES,
  Publisher,
  type StartedEndpoint,
  sleep,
  startEndpoint,
} from './helpers.ts';

const suite = suiteRedis();
const { cleanups } = suite;

async function client(port: number): Promise<LineClient> {
  const c = await LineClient.connect(port);
  cleanups.push(() => c.close());
  return c;
}

async function ep(prefix: string, args: string[] = []): Promise<StartedEndpoint> {
  const e = await startEndpoint(suite.redis.url, prefix, args);
  cleanups.push(() => e.stop());
  return e;
}

async function connected(port: number): Promise<LineClient> {
  const c = await client(port);
  c.hello();
  await c.next('set_movies');
  return c;
}

describe('soft limit', () => {
  it('sends new connections to the least loaded other endpoint, never in a loop', async () => {
    const prefix = freshPrefix('soft');
    const a = await ep(prefix, ['--soft-limit', '2', '--id', 'ep-a']);
    const b = await ep(prefix, ['--soft-limit', '2', '--id', 'ep-b']);
    const c = await ep(prefix, ['--soft-limit', '2', '--id', 'ep-c']);
    // c is busier than b
    await connected(c.port);
    await c.instance.server.registry.beat();
    await a.instance.server.registry.refresh();
    expect(a.instance.server.registry.peers.map((p) => p.id).sort()).toEqual(['ep-b', 'ep-c']);

    await connected(a.port);
    await connected(a.port);
    const third = await client(a.port);
    const r = await third.next('reconnect');
    expect(r.params).toEqual({ host: '127.0.0.1', port: b.port, tls: false, reason: 'load' });
    await third.waitClosed();
    expect(a.instance.server.gauges()).toMatchObject({ clients: 2, redirected: 1 });

    // follow it: b takes the client
    await connected(b.port);
    // once b and c are at their own soft limit, a keeps new clients rather than bouncing them around
    await connected(b.port);
    await connected(c.port);
    await b.instance.server.registry.beat();
    await c.instance.server.registry.beat();
    await a.instance.server.registry.refresh();
    const fourth = await connected(a.port);
    expect(fourth.messages.some((m) => m.action === 'reconnect')).toBe(false);
    expect(a.instance.server.gauges().clients).toBe(3);
  });

  it('shed N on a control message: those clients get reconnect to the others', async () => {
    const prefix = freshPrefix('shed');
    const a = await ep(prefix, ['--id', 'shed-a']);
    const b = await ep(prefix, ['--id', 'shed-b']);
    const cs = await Promise.all(Array.from({ length: 5 }, () => connected(a.port)));
    await b.instance.server.registry.beat();
    const pub = new Publisher(suite.redis.url, prefix);
    cleanups.push(() => pub.close());
    await pub.redis.publish(
      redisContract(prefix).control('endpoint', 'shed-a'),
      JSON.stringify({ cmd: 'shed', clients: 2 }),
    );
    await expect.poll(() => cs.filter((c) => c.closed).length, { timeout: 5000 }).toBe(2);
    for (const c of cs.filter((x) => x.closed)) {
      expect(c.messages.at(-1)).toMatchObject({
        action: 'reconnect',
        params: { port: b.port, reason: 'shed' },
      });
    }
    expect(a.instance.server.gauges().clients).toBe(3);
  });
});

describe('drain control', () => {
  it('moves every client to the others, marks the record draining, redirects new connections', async () => {
    const prefix = freshPrefix('drainctl');
    const a = await ep(prefix, ['--id', 'dc-a']);
    const b = await ep(prefix, ['--id', 'dc-b']);
    const cs = await Promise.all(Array.from({ length: 4 }, () => connected(a.port)));
    await b.instance.server.registry.beat();
    const pub = new Publisher(suite.redis.url, prefix);
    cleanups.push(() => pub.close());
    await pub.redis.publish(pub.keys.control('endpoint', 'dc-a'), JSON.stringify({ cmd: 'drain' }));
    await Promise.all(cs.map((c) => c.waitClosed()));
    for (const c of cs)
      expect(c.messages.at(-1)).toMatchObject({ action: 'reconnect', params: { port: b.port } });
    const rec = JSON.parse((await pub.redis.get(pub.keys.endpoint('dc-a')))!);
    expect(rec).toMatchObject({ draining: true });
    const late = await client(a.port);
    const r = await late.next('reconnect');
    expect(r.params).toMatchObject({ port: b.port, reason: 'draining' });
    // and b never sends anyone to the draining a
    await b.instance.server.registry.refresh();
    expect(b.instance.server.registry.pickRedirect()).toBeUndefined();
  });
});

function spawnEndpoint(prefix: string, id: string): ChildProcess {
  return spawnTracked(
    process.execPath,
    [
      path.resolve('bin/endpoint.mjs'),
      '--redis',
      suite.redis.url,
      '--prefix',
      prefix,
      '--id',
      id,
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--drain-grace',
      '2s',
    ],
    { name: id, env: { ...process.env, FG_LOG_LEVEL: 'info' } },
  );
}

async function listeningPort(child: ChildProcess): Promise<number> {
  const line = await waitForLine(child, /"msg":"listening"/, 20_000);
  return JSON.parse(line).port as number;
}

describe('SIGTERM', () => {
  it('drains: every client gets reconnect, spread over the other endpoints, then the process exits 0', async () => {
    const prefix = freshPrefix('drain');
    const pa = spawnEndpoint(prefix, 'drain-a');
    const pb = spawnEndpoint(prefix, 'drain-b');
    const pc = spawnEndpoint(prefix, 'drain-c');
    cleanups.push(
      () => killTracked(pa),
      () => killTracked(pb),
      () => killTracked(pc),
    );
    const [portA, portB, portC] = await Promise.all([
      listeningPort(pa),
      listeningPort(pb),
      listeningPort(pc),
    ]);
    const cs = await Promise.all(Array.from({ length: 30 }, () => connected(portA)));
    pa.kill('SIGTERM');
    await Promise.all(cs.map((c) => c.waitClosed(8000)));
    const ports = cs.map((c) => {
      const last = c.messages.at(-1);
      expect(last).toMatchObject({ action: 'reconnect', params: { host: '127.0.0.1', tls: false } });
      return last?.action === 'reconnect' ? last.params.port : 0;
    });
    // spread by free capacity: both others take about half
    expect(ports.filter((p) => p === portB).length).toBeGreaterThanOrEqual(10);
    expect(ports.filter((p) => p === portC).length).toBeGreaterThanOrEqual(10);
    expect(ports.every((p) => p === portB || p === portC)).toBe(true);
    expect(await waitForExit(pa, 10_000)).toBe(true);
    expect(pa.exitCode).toBe(0);
    // the record of a is gone from the registry; b and c stay
    const pub = new Publisher(suite.redis.url, prefix);
    cleanups.push(() => pub.close());
    expect((await pub.redis.zrange(pub.keys.endpointIndex, 0, '-1')).sort()).toEqual(['drain-b', 'drain-c']);
    expect(await pub.redis.exists(pub.keys.endpoint('drain-a'))).toBe(0);
  });

  it('with no other endpoint, closes clients cleanly and exits', async () => {
    const prefix = freshPrefix('alone');
    const p = spawnEndpoint(prefix, 'alone');
    cleanups.push(() => killTracked(p));
    const port = await listeningPort(p);
    const cs = await Promise.all(Array.from({ length: 5 }, () => connected(port)));
    p.kill('SIGTERM');
    await Promise.all(cs.map((c) => c.waitClosed(8000)));
    for (const c of cs) expect(c.messages.map((m) => m.action)).toEqual(['set_movies']);
    expect(await waitForExit(p, 10_000)).toBe(true);
    expect(p.exitCode).toBe(0);
  });
});

describe('Redis restart', () => {
  it('clients stay connected and feeds resume once Redis is back', async () => {
    const prefix = freshPrefix('restart');
    const pub = new Publisher(suite.redis.url, prefix);
    cleanups.push(() => pub.close());
    await pub.catalog(MOVIES);
    const e = await ep(prefix);
    const cs = await Promise.all(Array.from({ length: 10 }, () => connected(e.port)));
    for (const c of cs) {
      c.send({ action: 'start_feed', params: { movie_id: 1 } });
      c.send({ action: 'ping' });
      await c.next('pong');
    }
    await pub.publish(1, [pub.tweet('before')]);
    await Promise.all(cs.map((c) => c.until(() => c.tweets().length === 1)));

    await suite.redis.restart({ downMs: 700 });
    // the endpoint resubscribes by itself; wait until Redis sees the subscription again
    const channel = pub.keys.movieChannel(1);
    await expect
      .poll(async () => Number(((await pub.redis.pubsub('NUMSUB', channel)) as [string, number])[1]), {
        timeout: 10_000,
      })
      .toBe(1);
    await pub.publish(1, [pub.tweet('after')]);
    await Promise.all(cs.map((c) => c.until(() => c.tweets().some((t) => t.params.tweet.text === 'after'))));
    expect(cs.every((c) => !c.closed)).toBe(true);
    // and the endpoint still answers
    cs[0]!.send({ action: 'ping', params: { id: 'alive' } });
    await cs[0]!.until((m) => m.some((x) => x.action === 'pong' && x.params.id === 'alive'));
    await sleep(10);
  });
});
