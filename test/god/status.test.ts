// status: the provider's expected processes joined with real heartbeats in a real Redis: up, stale (old beat,
// or beat key expired), missing (never beat), unexpected (beats but not expected); waitHealthy.
import { describe, expect, it } from 'vitest';
import { type FleetRedis, connectFleetRedis } from '../../god/core/redis.ts';
import { getStatus, joinStatus, STALE_AFTER_MS, waitHealthy } from '../../god/core/status.ts';
import type { ExpectedProcess, Provider } from '../../god/core/providers/types.ts';
import { HeartbeatPublisher } from '../../roles/runtime/heartbeat.ts';
import { useRedis } from '../harness/index.ts';

let redisServer: ReturnType<typeof useRedis>;

const EXPECTED: ExpectedProcess[] = [
  { role: 'endpoint', id: 'endpoint-1', host: 'h1' },
  { role: 'endpoint', id: 'endpoint-2', host: 'h1' },
  { role: 'feeder', id: 'feeder-1', host: 'h2' },
  { role: 'keeper', id: 'keeper-1', host: 'h2' },
];

/** The fleet as a provider sees it: these machines and processes (status only reads these two lists). */
function fleetOf(expected: ExpectedProcess[]): Provider {
  return {
    kind: 'ssh',
    machines: async () => [
      { provider: 'ssh', id: 'h1', name: 'h1', address: '10.0.0.1', state: 'reachable', roles: ['endpoint'] },
      {
        provider: 'ssh',
        id: 'h2',
        name: 'h2',
        address: '10.0.0.2',
        state: 'reachable',
        roles: ['feeder', 'keeper'],
      },
    ],
    expected: async () => expected,
    up: async () => {},
    down: async () => {},
    restart: async () => {},
    close: async () => {},
  };
}

async function connect(prefix: string): Promise<FleetRedis> {
  return connectFleetRedis(redisServer().url, { prefix });
}

function publisher(fr: FleetRedis, role: 'endpoint' | 'feeder' | 'keeper', id: string, gauges = {}) {
  return new HeartbeatPublisher({
    redis: fr.redis,
    keys: fr.keys,
    role,
    id,
    host: 'h1',
    version: '1.2.3',
    gauges: () => gauges,
    intervalMs: 100,
  });
}

describe('status', () => {
  redisServer = useRedis();

  it('flags up, stale, expired, missing and unexpected processes', async () => {
    const fr = await connect('st1:');
    const live = publisher(fr, 'endpoint', 'endpoint-1', { clients: 12 });
    const extra = publisher(fr, 'endpoint', 'endpoint-9');
    live.start();
    extra.start();
    try {
      // endpoint-2: its last beat is 20 s old (a hung process: the key has not expired yet)
      const old = {
        ...live.snapshot(),
        id: 'endpoint-2',
        pid: 4242,
        at: new Date(Date.now() - 20_000).toISOString(),
      };
      await fr.redis.set(fr.keys.heartbeat('endpoint', 'endpoint-2'), JSON.stringify(old), 'EX', 30);
      await fr.redis.zadd(fr.keys.heartbeatIndex, Date.now() - 20_000, 'endpoint:endpoint-2');
      // feeder-1: beat a minute ago, its key expired since
      await fr.redis.zadd(fr.keys.heartbeatIndex, Date.now() - 60_000, 'feeder:feeder-1');
      await new Promise((r) => setTimeout(r, 250));

      const r = await getStatus({ provider: fleetOf(EXPECTED), redis: fr, redisUrl: 'redis://:secret@h:1' });
      const by = Object.fromEntries(r.processes.map((p) => [p.id, p]));
      expect(by['endpoint-1']).toMatchObject({
        state: 'up',
        expected: true,
        version: '1.2.3',
        pid: process.pid,
      });
      expect(by['endpoint-1']!.gauges.clients).toBe(12);
      expect(by['endpoint-1']!.heartbeat_age_s).toBeLessThan(1);
      expect(by['endpoint-2']).toMatchObject({ state: 'stale', pid: 4242 });
      expect(by['endpoint-2']!.heartbeat_age_s).toBeGreaterThanOrEqual(19);
      expect(by['feeder-1']).toMatchObject({ state: 'stale', pid: null });
      expect(by['feeder-1']!.heartbeat_age_s).toBeGreaterThanOrEqual(59);
      expect(by['keeper-1']).toMatchObject({ state: 'missing', pid: null, heartbeat_age_s: null });
      expect(by['endpoint-9']).toMatchObject({ state: 'unexpected', expected: false });
      expect(r.summary).toEqual({ expected: 4, up: 1, stale: 2, missing: 1, unexpected: 1 });
      expect(r.ok).toBe(false);
      expect(r.redis).toEqual({ url: 'redis://:***@h:1', ok: true });
      expect(r.machines.map((m) => m.name)).toEqual(['h1', 'h2']);
    } finally {
      await live.stop();
      await extra.stop();
      fr.close();
    }
  });

  it('reports Redis as unreachable but still lists what is expected', async () => {
    const r = await getStatus({
      provider: fleetOf(EXPECTED),
      redisUrl: 'redis://h:1',
      redisError: 'ECONNREFUSED',
    });
    expect(r.redis).toEqual({ url: 'redis://h:1', ok: false, error: 'ECONNREFUSED' });
    expect(r.processes.every((p) => p.state === 'missing')).toBe(true);
    expect(r.ok).toBe(false);
  });

  it('ages beats against the stale threshold', () => {
    const now = Date.now();
    const hb = (ageMs: number) => ({
      role: 'feeder' as const,
      id: 'feeder-1',
      host: 'h',
      pid: 1,
      version: 'v',
      started_at: new Date(now - 60_000).toISOString(),
      at: new Date(now - ageMs).toISOString(),
      rss: 1,
      cpu: 0,
      gauges: {},
    });
    const exp = [EXPECTED[2]!];
    expect(
      joinStatus(exp, { live: [hb(STALE_AFTER_MS - 500)], gone: new Map() }, now).processes[0]!.state,
    ).toBe('up');
    expect(
      joinStatus(exp, { live: [hb(STALE_AFTER_MS + 500)], gone: new Map() }, now).processes[0]!.state,
    ).toBe('stale');
    expect(joinStatus(exp, { live: [hb(0)], gone: new Map() }, now).processes[0]!.uptime_s).toBe(60);
  });

  it('waitHealthy names what is still missing at the deadline, and returns once all beat', async () => {
    const fr = await connect('st2:');
    const exp = [EXPECTED[0]!, EXPECTED[1]!];
    const a = publisher(fr, 'endpoint', 'endpoint-1');
    const b = publisher(fr, 'endpoint', 'endpoint-2');
    a.start();
    try {
      await expect(waitHealthy(fr, exp, { timeoutMs: 500 })).rejects.toThrow(
        /not healthy after .*endpoint-2 \(missing\)/,
      );
      await expect(waitHealthy(fr, exp, { timeoutMs: 500, version: '9.9' })).rejects.toThrow(/version 1.2.3/);
      setTimeout(() => b.start(), 300);
      const r = await waitHealthy(fr, exp, { timeoutMs: 5000, version: '1.2.3' });
      expect(r.summary.up).toBe(2);
    } finally {
      await a.stop();
      await b.stop();
      fr.close();
    }
  });
});
