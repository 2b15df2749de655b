// The deploy health check's parts without sshd: waitHeartbeat against a real redis-server with heartbeats
// written by hand (a dead process's key left behind, the wrong version, a process that beat once), and the
// endpoint check against real loopback TCP/TLS servers that answer set_movies, an error, garbage or nothing.
// Fast, so it is also what Stryker runs against god/core/deploy/health.ts.
import net from 'node:net';
import tls from 'node:tls';
import fs from 'node:fs';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  checkEndpoint,
  healthOf,
  heartbeatStarts,
  waitEndpoint,
  waitHeartbeat,
} from '../../../god/core/deploy/health.ts';
import type { DeployHost } from '../../../god/core/deploy/types.ts';
import { HEARTBEAT_TTL_S, type Heartbeat, redisContract } from '../../../protocol/redis-contract.ts';
import { makeSelfSignedCert, makeTempDir, opensslAvailable, useRedis } from '../../harness/index.ts';

const server = useRedis();
let redis: Redis;
beforeAll(() => {
  redis = new Redis(server().url);
});
afterAll(() => redis.disconnect());

let n = 0;
const keysOf = () => redisContract(`hu${++n}:`);
const feeder = { role: 'feeder' as const, id: 'feeder-1' };

function hb(o: Partial<Heartbeat> = {}): Heartbeat {
  return {
    role: 'feeder',
    id: 'feeder-1',
    host: 'h1',
    pid: 100,
    version: 'v2',
    started_at: '2026-01-01T00:00:00.000Z',
    at: new Date().toISOString(),
    rss: 1,
    cpu: 0,
    gauges: {},
    seq: 5,
    ...o,
  };
}

/** Write a heartbeat key the way a role's publisher does (TTL HEARTBEAT_TTL_S). */
const beat = (keys: ReturnType<typeof redisContract>, h: Heartbeat) =>
  redis.set(keys.heartbeat(h.role, h.id), JSON.stringify(h), 'EX', HEARTBEAT_TTL_S);

describe('waitHeartbeat', () => {
  it('passes on a new process of the expected version that has beaten stably', async () => {
    const keys = keysOf();
    await beat(keys, hb({ pid: 100, version: 'v1' }));
    const before = await heartbeatStarts(redis, keys, [feeder]);
    await beat(keys, hb({ pid: 200, started_at: '2026-01-02T00:00:00.000Z', seq: 3 }));
    expect(await waitHeartbeat(redis, keys, feeder, 'v2', before, 2000)).toEqual({ ok: true, pid: 200 });
  });

  it("does not pass on the old process's heartbeat left behind (same version redeployed)", async () => {
    const keys = keysOf();
    await beat(keys, hb({ pid: 100 }));
    const before = await heartbeatStarts(redis, keys, [feeder]);
    const r = await waitHeartbeat(redis, keys, feeder, 'v2', before, 400);
    expect(r).toEqual({
      ok: false,
      error:
        'feeder feeder-1: no heartbeat from a new process (pid 100 is the one from before the change) after 0 s (expected version v2)',
    });
  });

  it('does not pass on another version, on a process that beat once, or on no heartbeat', async () => {
    const keys = keysOf();
    const before = await heartbeatStarts(redis, keys, [feeder]);
    expect(await waitHeartbeat(redis, keys, feeder, 'v2', before, 1200)).toEqual({
      ok: false,
      error: 'feeder feeder-1: no heartbeat after 1 s (expected version v2)',
    });
    await beat(keys, hb({ version: 'v1' }));
    expect(await waitHeartbeat(redis, keys, feeder, 'v2', before, 300)).toMatchObject({
      ok: false,
      error: expect.stringContaining('heartbeat reports version v1'),
    });
    await beat(keys, hb({ seq: 1 }));
    expect(await waitHeartbeat(redis, keys, feeder, 'v2', before, 300)).toMatchObject({
      ok: false,
      error: expect.stringContaining('pid 100 has beaten 1 of 3 times'),
    });
  });

  it('waits for the new process to come (polls until it beats)', async () => {
    const keys = keysOf();
    const before = await heartbeatStarts(redis, keys, [feeder]);
    const p = waitHeartbeat(redis, keys, feeder, 'v2', before, 20_000);
    setTimeout(() => void beat(keys, hb({ pid: 300, seq: 4 })), 400);
    expect(await p).toEqual({ ok: true, pid: 300 });
  });

  it('an abort ends the wait with what was seen', async () => {
    const keys = keysOf();
    const before = await heartbeatStarts(redis, keys, [feeder]);
    const ac = new AbortController();
    ac.abort();
    expect(await waitHeartbeat(redis, keys, feeder, 'v2', before, 60_000, ac.signal)).toEqual({
      ok: false,
      error: 'feeder feeder-1: no heartbeat after 60 s (expected version v2)',
    });
  });
});

const setMovies = `${JSON.stringify({ action: 'set_movies', params: { movies: [], window_s: 60, at: new Date().toISOString() } })}\n`;

const servers: net.Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** A loopback server; `answer` gets each connection and the first line it sent. */
async function tcp(answer: (sock: net.Socket, first: string) => void, srv: net.Server = net.createServer()) {
  srv.on(srv instanceof tls.Server ? 'secureConnection' : 'connection', (sock: net.Socket) => {
    let buf = '';
    sock.on('error', () => {});
    sock.on('data', (d) => {
      buf += d.toString();
      const i = buf.indexOf('\n');
      if (i >= 0) answer(sock, buf.slice(0, i));
    });
  });
  servers.push(srv);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return (srv.address() as net.AddressInfo).port;
}

describe('checkEndpoint / waitEndpoint', () => {
  it('sends connect like a client and passes on set_movies (after lines that are not JSON)', async () => {
    const got: string[] = [];
    const port = await tcp((s, first) => {
      got.push(first);
      s.write('not json\n{"action":"pong","params":{}}\n');
      s.write(setMovies);
    });
    expect(await checkEndpoint({ host: '127.0.0.1', port }, 3000)).toEqual({ ok: true });
    expect(JSON.parse(got[0]!)).toEqual({
      action: 'connect',
      params: { client: { app: 'god', version: 'health' } },
    });
  });

  it('a line split across packets is reassembled', async () => {
    const port = await tcp((s) => {
      s.write(setMovies.slice(0, 10));
      setTimeout(() => s.write(setMovies.slice(10)), 50);
    });
    expect(await checkEndpoint({ host: '127.0.0.1', port }, 3000)).toEqual({ ok: true });
  });

  it('fails with what it saw: an error frame, a close, no answer, an oversized line, a refused port', async () => {
    const errPort = await tcp((s) =>
      s.write(`${JSON.stringify({ action: 'error', params: { code: 'server_full', message: 'full' } })}\n`),
    );
    expect(await checkEndpoint({ host: '127.0.0.1', port: errPort }, 3000)).toEqual({
      ok: false,
      error: `endpoint tcp://127.0.0.1:${errPort} answered error server_full: full`,
    });
    const closePort = await tcp((s) => s.end());
    expect(await checkEndpoint({ host: '127.0.0.1', port: closePort }, 3000)).toEqual({
      ok: false,
      error: `endpoint tcp://127.0.0.1:${closePort}: closed before set_movies`,
    });
    const quietPort = await tcp(() => {});
    expect(await checkEndpoint({ host: '127.0.0.1', port: quietPort }, 300)).toEqual({
      ok: false,
      error: `endpoint tcp://127.0.0.1:${quietPort}: no set_movies within 300 ms`,
    });
    const bigPort = await tcp((s) => s.write('x'.repeat((1 << 20) + 10)));
    expect(await checkEndpoint({ host: '127.0.0.1', port: bigPort }, 5000)).toEqual({
      ok: false,
      error: `endpoint tcp://127.0.0.1:${bigPort}: oversized line`,
    });
    const free = await tcp(() => {});
    await new Promise((r) => servers.pop()!.close(r));
    expect(await checkEndpoint({ host: '127.0.0.1', port: free }, 3000)).toMatchObject({
      ok: false,
      error: expect.stringMatching(new RegExp(`^endpoint tcp://127.0.0.1:${free}: .*ECONNREFUSED`)),
    });
  });

  it.skipIf(!opensslAvailable())('speaks TLS when the endpoint does', async () => {
    const cert = makeSelfSignedCert(makeTempDir('health-tls'));
    const srv = tls.createServer({ cert: fs.readFileSync(cert.cert), key: fs.readFileSync(cert.key) });
    const port = await tcp((s) => s.write(setMovies), srv);
    expect(await checkEndpoint({ host: '127.0.0.1', port, tls: true }, 3000)).toEqual({ ok: true });
    // plain TCP to a TLS port gets no set_movies
    expect((await checkEndpoint({ host: '127.0.0.1', port }, 500)).ok).toBe(false);
  });

  it('waitEndpoint retries until the endpoint answers, and gives the last error at the deadline', async () => {
    let conns = 0;
    const port = await tcp((s) => {
      if (++conns < 3) s.end();
      else s.write(setMovies);
    });
    expect(await waitEndpoint({ host: '127.0.0.1', port }, 20_000)).toEqual({ ok: true });
    expect(conns).toBe(3);
    const closing = await tcp((s) => s.end());
    expect(await waitEndpoint({ host: '127.0.0.1', port: closing }, 600)).toEqual({
      ok: false,
      error: `endpoint tcp://127.0.0.1:${closing}: closed before set_movies`,
    });
  });
});

describe('healthOf', () => {
  it('checks every process: a new heartbeat, then the endpoint answers; reports each failure', async () => {
    const keys = keysOf();
    const endpoint = { role: 'endpoint' as const, id: 'endpoint-1' };
    const port = await tcp((s) => s.write(setMovies));
    const host: DeployHost = {
      name: 'h1',
      address: '127.0.0.1',
      baseDir: '/srv/fg',
      processes: [
        { ...feeder, env: {} },
        { ...endpoint, env: {}, endpoint: { port } },
      ],
    };
    const before = await heartbeatStarts(redis, keys, [feeder, endpoint]);
    await beat(keys, hb({ pid: 201 }));
    await beat(keys, hb({ role: 'endpoint', id: 'endpoint-1', pid: 202 }));
    expect(await healthOf(redis, keys, undefined, host, host.processes, 'v2', before, 5000)).toBeUndefined();

    // the endpoint's port does not answer; the feeder runs the old version
    const quiet = await tcp((s) => s.end());
    await beat(keys, hb({ pid: 203, version: 'v1' }));
    const bad = {
      ...host,
      processes: [host.processes[0]!, { ...endpoint, env: {}, endpoint: { host: '127.0.0.1', port: quiet } }],
    };
    const err = await healthOf(redis, keys, undefined, bad, bad.processes, 'v2', before, 1500);
    expect(err?.split('\n')).toEqual([
      'feeder feeder-1: heartbeat reports version v1 after 2 s (expected version v2)',
      `endpoint tcp://127.0.0.1:${quiet}: closed before set_movies`,
    ]);
  });
});
