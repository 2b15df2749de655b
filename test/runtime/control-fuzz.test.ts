// Fuzz the control channel of real role processes (endpoint, feeder, keeper): random JSON, wrong types, huge
// payloads, bytes that are not UTF-8, sent to each process's own channel and to its role's channel. Anyone who
// can publish on Redis reaches these channels, so no message may end a process: every one must still be
// running, beating and obeying a valid control message afterwards. Replay a failure with FUZZ_SEED.
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { LOG_LEVELS, type Role, redisContract } from '../../protocol/redis-contract.ts';

/** pino's levels (the valid values of `log_level`) */
import {
  isRunning,
  killTracked,
  makeTempDir,
  type RedisServer,
  spawnTracked,
  startRedis,
  waitFor,
  waitForLine,
} from '../harness/index.ts';
import { LineClient } from '../endpoint/helpers.ts';
// the feeder's seeded PRNG (mulberry32), as in test/endpoint/fuzz.test.ts
import { rng as prng } from '../../roles/feeder/sources/popularity.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000);
const MESSAGES_PER_PROCESS = 600;
const PREFIX = 'cf:';
const keys = redisContract(PREFIX);

let redis: RedisServer;
let client: Redis;
const procs: Array<{ role: Role; id: string; child: ChildProcess }> = [];
let endpointPort = 0;

function spawnRole(role: Role, id: string, args: string[]): ChildProcess {
  const child = spawnTracked(
    process.execPath,
    [path.join(ROOT, `bin/${role}.mjs`), '--redis', redis.url, '--prefix', PREFIX, '--id', id, ...args],
    { cwd: ROOT, env: { ...process.env }, name: id },
  );
  procs.push({ role, id, child });
  return child;
}

/** Payloads that must all be refused: never a valid shed/drain/stop (those would legitimately move or stop). */
function payloadGen(rand: () => number) {
  const int = (n: number) => Math.floor(rand() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const str = (n: number) => String.fromCharCode(...Array.from({ length: int(n) }, () => int(0xffff)));
  const randomValue = (depth: number): unknown => {
    switch (int(depth > 4 ? 6 : 9)) {
      case 0:
        return int(2e6) - 1e6;
      case 1:
        return rand() * 1e300 * (rand() < 0.5 ? -1 : 1);
      case 2:
        return str(16);
      case 3:
        return null;
      case 4:
        return rand() < 0.5;
      case 5:
        return pick(['info', 'INFO', 'verbose', 'silent', '', 'debug ', 'trace\u0000', '__proto__']);
      case 6:
        return Array.from({ length: int(4) }, () => randomValue(depth + 1));
      default:
        return Object.fromEntries(
          Array.from({ length: int(4) }, () => [
            pick(['cmd', 'level', 'clients', 'reason', '__proto__', 'x']),
            randomValue(depth + 1),
          ]),
        );
    }
  };
  const wrongTyped = (): unknown => {
    const cmd = pick(['shed', 'drain', 'stop', 'log_level', 'LOG_LEVEL', 'reload', '', 42, null]);
    const msg: Record<string, unknown> = { cmd };
    if (rand() < 0.7) msg.level = randomValue(3);
    if (rand() < 0.5) msg.clients = pick([-1, 0, 0.5, '10', 1e300, Number.MAX_SAFE_INTEGER + 2, null, [1]]);
    if (rand() < 0.3) msg.reason = rand() < 0.5 ? 'x'.repeat(10_000) : randomValue(2);
    return msg;
  };
  return (): Buffer => {
    const kind = int(10);
    if (kind === 0) {
      const b = Buffer.allocUnsafe(int(200));
      for (let i = 0; i < b.length; i++) b[i] = int(256);
      return b;
    }
    if (kind === 1) {
      // huge: over the control size limit (and far beyond it now and then)
      const size = rand() < 0.9 ? 5000 + int(60_000) : 2 * 1024 * 1024;
      return Buffer.from(
        JSON.stringify({ cmd: 'log_level', level: 'info', pad: 'p'.repeat(size) }).slice(
          0,
          rand() < 0.5 ? undefined : size,
        ),
      );
    }
    if (kind < 6) return Buffer.from(JSON.stringify(wrongTyped()));
    if (kind < 9) return Buffer.from(JSON.stringify(randomValue(0)) ?? 'undefined');
    // the probe of issue 12: a log level pino does not know (this used to end the process)
    return Buffer.from(JSON.stringify({ cmd: 'log_level', level: pick(['bogus', 'silent', 'WARN', '']) }));
  };
}

/** A payload that is a real command (it would move clients, stop or re-level a process): skipped. Decided
 * here, not by the schema under test, so the same payloads go out before and after a schema change. */
function wouldAct(b: Buffer): boolean {
  let v: unknown;
  try {
    v = JSON.parse(b.toString());
  } catch {
    return false;
  }
  if (typeof v !== 'object' || v === null) return false;
  const m = v as Record<string, unknown>;
  if (m.cmd === 'drain' || m.cmd === 'stop') return true;
  if (m.cmd === 'shed') return Number.isSafeInteger(m.clients) && (m.clients as number) > 0;
  return m.cmd === 'log_level' && (LOG_LEVELS as readonly unknown[]).includes(m.level);
}

beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url, { maxRetriesPerRequest: null });
  const ep = spawnRole('endpoint', 'cf-endpoint', ['--host', '127.0.0.1', '--port', '0']);
  spawnRole('feeder', 'cf-feeder', [
    '--catalog',
    path.join(ROOT, 'data/test-catalog.json'),
    '--source',
    'synthetic',
    '--rate',
    '20',
  ]);
  spawnRole('keeper', 'cf-keeper', [
    '--archive',
    `file://${makeTempDir('cf-archive')}`,
    '--spool-dir',
    makeTempDir('cf-spool'),
  ]);
  endpointPort = JSON.parse(await waitForLine(ep, /"msg":"listening"/, 30_000)).port;
  for (const p of procs) {
    await waitFor(
      async () => (await client.exists(keys.heartbeat(p.role, p.id))) === 1,
      30_000,
      `${p.id} beating`,
    );
  }
}, 90_000);

afterAll(async () => {
  for (const p of procs) await killTracked(p.child);
  client?.disconnect();
  await redis?.stop();
});

it(`no control message ends a role process (seed ${SEED})`, async () => {
  const next = payloadGen(prng(SEED));
  let sent = 0;
  for (const p of procs) {
    const channels = [keys.control(p.role, p.id), keys.controlRole(p.role)];
    for (let i = 0; i < MESSAGES_PER_PROCESS; i++) {
      const payload = next();
      if (wouldAct(payload)) continue;
      await client.publish(channels[i % 2]!, payload);
      sent++;
    }
  }
  expect(sent).toBeGreaterThan(procs.length * MESSAGES_PER_PROCESS * 0.7);

  // every process still obeys a valid message: proof it is alive and its subscriber still works
  const beforeValid = Date.now();
  for (const p of procs) {
    await client.publish(keys.control(p.role, p.id), JSON.stringify({ cmd: 'log_level', level: 'info' }));
    await waitForLine(
      p.child,
      /"control":{"cmd":"log_level","level":"info"},"msg":"control message"/,
      15_000,
    );
  }
  for (const p of procs) {
    expect(isRunning(p.child), `${p.id} still running`).toBe(true);
    // the malformed ones were reported, not swallowed silently
    await waitForLine(p.child, /ignored a malformed control message/, 5000);
    // and it keeps beating
    const at = Number(await client.zscore(keys.heartbeatIndex, `${p.role}:${p.id}`));
    await waitFor(
      async () =>
        Number(await client.zscore(keys.heartbeatIndex, `${p.role}:${p.id}`)) > Math.max(at, beforeValid),
      10_000,
      `${p.id} beats after the fuzz`,
    );
  }
  // the endpoint still serves clients
  const c = await LineClient.connect(endpointPort);
  c.hello();
  await c.next('set_movies');
  c.send({ action: 'ping', params: { id: 'after-fuzz' } });
  await c.until((m) => m.some((x) => x.action === 'pong' && x.params.id === 'after-fuzz'));
  c.close();
}, 120_000);

it('a poisoned endpoint registry neither ends the endpoint nor becomes a redirect target', async () => {
  const c = await LineClient.connect(endpointPort);
  c.hello();
  await c.next('set_movies');
  const good = {
    id: 'cf-good',
    host: '127.0.0.9',
    port: 7001,
    tls: false,
    clients: 0,
    capacity: 100,
    soft_limit: 80,
    draining: false,
    at: new Date().toISOString(),
  };
  const poison: Array<[string, string]> = [
    ['p-notjson', 'not json {'],
    ['p-types', JSON.stringify({ ...good, id: 'p-types', host: { x: 1 }, port: '80' })],
    ['p-proto', '{"__proto__":{"host":"evil","port":1},"id":"p-proto"}'],
    ['p-huge', JSON.stringify({ ...good, id: 'p-huge', capacity: 1e300, clients: -1e300 })],
    ['p-null', 'null'],
  ];
  const m = client.multi();
  for (const [id, v] of poison) m.set(keys.endpoint(id), v, 'EX', 60);
  m.hset(keys.endpoint('p-hash'), 'host', 'evil'); // not even a string key
  m.set(keys.endpoint('cf-good'), JSON.stringify(good), 'EX', 60);
  for (const id of [...poison.map(([i]) => i), 'p-hash', 'cf-good'])
    m.zadd(keys.endpointIndex, Date.now(), id);
  await m.exec();
  // a shed makes the endpoint read the registry and pick targets from it
  await client.publish(keys.control('endpoint', 'cf-endpoint'), JSON.stringify({ cmd: 'shed', clients: 5 }));
  const r = await c.next('reconnect', 0, 10_000);
  expect(r.params).toMatchObject({ host: '127.0.0.9', port: 7001, tls: false });
  await c.waitClosed();
  const endpoint = procs.find((p) => p.role === 'endpoint')!;
  expect(isRunning(endpoint.child)).toBe(true);
  const probe = await LineClient.connect(endpointPort);
  probe.hello();
  await probe.next('set_movies');
  probe.close();
}, 30_000);
