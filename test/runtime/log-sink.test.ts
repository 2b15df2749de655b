// The log sink never blocks the role and never grows without bound while Redis is away.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { redisContract } from '../../protocol/redis-contract.ts';
import { RedisLogSink } from '../../roles/runtime/log-sink.ts';
import { connectRedis } from '../../roles/runtime/redis.ts';
import { cleanupAll, type RedisServer, startRedis, waitFor } from '../harness/index.ts';

const keys = redisContract('sink:');
let redis: RedisServer;

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await cleanupAll();
});

describe('RedisLogSink', () => {
  it('bounds its queue while Redis is down, counts drops, and reports them once Redis is back', async () => {
    const conn = connectRedis(redis.url, { name: 'sink-test', offlineQueue: false });
    const sink = new RedisLogSink({
      redis: conn,
      stream: keys.logStream,
      role: 'feeder',
      id: 's1',
      host: 'h',
      maxQueue: 500,
      flushMs: 20,
    });
    const check = new Redis(redis.url, { maxRetriesPerRequest: null });
    try {
      await waitFor(() => conn.status === 'ready', 5000, 'sink connection');
      sink.write('{"level":30,"msg":"before"}\n');
      await waitFor(async () => (await check.xlen(keys.logStream)) === 1, 5000, 'first line shipped');

      await redis.kill();
      await waitFor(() => conn.status !== 'ready', 5000, 'sink notices Redis is gone');
      // writes return at once: the role is never blocked by the sink. Event-ordered, not timed: all 2000 are
      // queued or dropped before the event loop gets a single turn (nothing waits for Redis).
      let turned = false;
      setImmediate(() => {
        turned = true;
      });
      for (let i = 0; i < 2000; i++) sink.write(`{"level":30,"msg":"down ${i}"}\n`);
      expect(sink.pending).toBe(500);
      expect(sink.dropped).toBe(1500);
      expect(turned).toBe(false);

      await redis.start();
      await waitFor(async () => sink.pending === 0, 15_000, 'queue shipped after Redis came back');
      const entries = await check.xrange(keys.logStream, '-', '+');
      const lines = entries.map(([, f]) => f[f.indexOf('line') + 1]!);
      // newest lines kept, oldest dropped, and the drop itself is logged as a warning
      expect(lines.some((l) => l.includes('down 1999'))).toBe(true);
      expect(lines.some((l) => l.includes('down 0"'))).toBe(false);
      const warn = lines.find((l) => l.includes('dropped 1500 log lines'));
      expect(warn).toBeDefined();
      const fields = entries.find(([, f]) => f.includes(warn!))![1];
      expect(fields[fields.indexOf('level') + 1]).toBe('warn');
    } finally {
      sink.close();
      conn.disconnect();
      check.disconnect();
    }
  });
});
