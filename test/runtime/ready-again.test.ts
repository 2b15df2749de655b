// onReadyAgain() against a real redis-server restarted empty: the hook runs once per reconnect (not on the
// first connect), and the heartbeat uses it to beat at once rather than an interval later.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisContract } from '../../protocol/redis-contract.ts';
import { HeartbeatPublisher } from '../../roles/runtime/heartbeat.ts';
import { connectRedis, onReadyAgain } from '../../roles/runtime/redis.ts';
import { type RedisServer, startRedis, waitFor } from '../harness/index.ts';

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

describe('onReadyAgain', () => {
  it('runs on each reconnect, not on the first connect; the heartbeat beats at once after a restart', async () => {
    const keys = redisContract('ra:');
    const r = connectRedis(redis.url, { name: 'ready-again' });
    let calls = 0;
    const off = onReadyAgain(r, () => calls++);
    // an hour between beats: only the beat on reconnect can bring the key back within the test
    const hb = new HeartbeatPublisher({
      redis: r,
      keys,
      role: 'feeder',
      id: 'ra-1',
      host: 'h',
      version: 't',
      gauges: () => ({}),
      intervalMs: 3600_000,
    });
    try {
      await waitFor(() => r.status === 'ready', 10_000, 'first connect');
      hb.start();
      await waitFor(async () => (await r.exists(keys.heartbeat('feeder', 'ra-1'))) === 1, 5000, 'first beat');
      expect(calls).toBe(0);

      await redis.kill(); // SIGKILL: the heartbeat key is lost
      await redis.start();
      await waitFor(
        async () => (await r.exists(keys.heartbeat('feeder', 'ra-1'))) === 1,
        10_000,
        'beat after restart',
      );
      expect(calls).toBe(1);

      off();
      await redis.kill();
      await redis.start();
      await waitFor(() => r.status === 'ready', 10_000, 'reconnect');
      expect(calls).toBe(1);
    } finally {
      await hb.stop();
      r.disconnect();
    }
  }, 60_000);
});
