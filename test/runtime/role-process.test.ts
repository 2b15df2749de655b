// The runtime as the roles use it: a real role process against a real redis-server.
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HeartbeatSchema, LogEntryFieldsSchema, redisContract } from '../../protocol/redis-contract.ts';
import { readHeartbeats } from '../../roles/runtime/heartbeat.ts';
import {
  cleanupAll,
  type RedisServer,
  spawnTracked,
  startRedis,
  waitFor,
  waitForExit,
  waitForLine,
} from '../harness/index.ts';

const probe = path.resolve(import.meta.dirname, 'fixtures/probe-role.ts');
const keys = redisContract('fg:');
let redis: RedisServer;
let client: Redis;

function startProbe(args: string[], env: Record<string, string> = {}) {
  return spawnTracked(process.execPath, ['--import', 'tsx', probe, '--redis', redis.url, ...args], {
    env: { ...process.env, ...env },
    cwd: path.resolve(import.meta.dirname, '../..'),
    name: 'probe',
  });
}

async function logLines(id: string): Promise<Array<Record<string, unknown>>> {
  const entries = await client.xrange(keys.logStream, '-', '+');
  return entries
    .map(([, f]) =>
      Object.fromEntries(Array.from({ length: f.length / 2 }, (_, i) => [f[2 * i], f[2 * i + 1]])),
    )
    .filter((e) => e.id === id)
    .map((e) => LogEntryFieldsSchema.parse(e))
    .map((e) => JSON.parse(e.line));
}

beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url, { maxRetriesPerRequest: null });
  client.on('error', () => {}); // the restart test takes Redis away on purpose
});
afterAll(async () => {
  client?.disconnect();
  await cleanupAll();
});

describe('role runtime in a real process', () => {
  it('logs JSON to stdout and the Redis stream, beats with gauges, and stops cleanly on SIGTERM', async () => {
    const p = startProbe(['--id', 'probe-a', '--log-every', '50ms', '--secret-value', 'zz-secret-zz']);
    await waitForLine(p, /probe ready/, 20_000);
    await waitFor(
      async () => (await client.exists(keys.heartbeat('feeder', 'probe-a'))) === 1,
      10_000,
      'heartbeat',
    );
    const hb = HeartbeatSchema.parse(JSON.parse((await client.get(keys.heartbeat('feeder', 'probe-a')))!));
    expect(hb).toMatchObject({ role: 'feeder', id: 'probe-a', pid: p.pid });
    expect(hb.gauges).toHaveProperty('ticks');
    expect(hb.rss).toBeGreaterThan(1e6);
    const ttl = await client.ttl(keys.heartbeat('feeder', 'probe-a'));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(7);
    expect((await readHeartbeats(client, keys)).map((h) => h.id)).toContain('probe-a');

    await waitFor(
      async () => (await logLines('probe-a')).some((l) => l.msg === 'tick'),
      10_000,
      'tick in stream',
    );
    const stdoutLine = await waitForLine(p, /connecting with secret/, 5000);
    expect(stdoutLine).not.toContain('zz-secret-zz');
    expect(JSON.stringify(await logLines('probe-a'))).not.toContain('zz-secret-zz');

    p.kill('SIGTERM');
    expect(await waitForExit(p, 10_000)).toBe(true);
    expect(p.exitCode).toBe(0);
    const lines = await logLines('probe-a');
    expect(lines.some((l) => l.msg === 'feeder stopped')).toBe(true);
    // the heartbeat is removed on a clean stop
    expect(await client.exists(keys.heartbeat('feeder', 'probe-a'))).toBe(0);
  });

  it('exits non-zero when the graceful stop overruns its deadline', async () => {
    const p = startProbe(['--id', 'probe-slow', '--stop-delay', '5s', '--stop-timeout', '300ms']);
    await waitForLine(p, /probe ready/, 20_000);
    p.kill('SIGTERM');
    expect(await waitForExit(p, 10_000)).toBe(true);
    expect(p.exitCode).toBe(1);
    await waitForLine(p, /graceful stop timed out/, 1000);
  });

  it('logs an uncaught exception with its stack and exits non-zero', async () => {
    const p = startProbe(['--id', 'probe-crash', '--crash-after', '200ms']);
    expect(await waitForExit(p, 20_000)).toBe(true);
    expect(p.exitCode).toBe(1);
    await waitFor(
      async () => (await logLines('probe-crash')).some((l) => l.level === 60),
      5000,
      'fatal line in the stream',
    );
    const fatal = (await logLines('probe-crash')).find((l) => l.level === 60)!;
    expect(fatal.msg).toMatch(/probe exploded/);
    expect((fatal.err as { stack: string }).stack).toMatch(/probe-role\.ts/);
  });

  it('refuses a bad config with a clear error and exit code 2', async () => {
    const p = startProbe(['--stop-timeout', 'whenever']);
    expect(await waitForExit(p, 20_000)).toBe(true);
    expect(p.exitCode).toBe(2);
    await waitForLine(p, /--stop-timeout \/ FG_STOP_TIMEOUT.*not a duration/, 1000);
  });

  it('survives a Redis restart: keeps running, resumes beats, ships buffered logs, gets control messages', async () => {
    const p = startProbe(['--id', 'probe-r', '--log-every', '20ms']);
    await waitForLine(p, /probe ready/, 20_000);
    await waitFor(async () => (await logLines('probe-r')).length > 3, 10_000, 'first logs');
    await redis.restart({ downMs: 1500 });
    await waitForLine(p, /redis connection lost/, 5000);
    await waitFor(
      async () => (await client.exists(keys.heartbeat('feeder', 'probe-r'))) === 1,
      15_000,
      'beat after restart',
    );
    expect(p.exitCode).toBeNull();
    // ticks logged while Redis was down reach the stream once it is back (the queue is bounded, not lost)
    await waitFor(
      async () => {
        const ns = (await logLines('probe-r')).filter((l) => l.msg === 'tick').map((l) => l.n as number);
        const max = Math.max(...ns);
        return max > 60 && ns.length >= max * 0.9;
      },
      15_000,
      'ticks of the outage shipped',
    );
    // the subscriber resubscribed after the restart
    await waitFor(
      async () => {
        await client.publish(
          keys.control('feeder', 'probe-r'),
          JSON.stringify({ cmd: 'log_level', level: 'info' }),
        );
        return (await logLines('probe-r')).some((l) => l.msg === 'probe got control');
      },
      10_000,
      'control message after restart',
    );
    p.kill('SIGTERM');
    expect(await waitForExit(p, 10_000)).toBe(true);
  });
});
