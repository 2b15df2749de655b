// status: the provider's expected processes joined with real heartbeats in a real Redis: up, stale (old beat,
// or beat key expired), missing (never beat), unexpected (beats but not expected); waitHealthy.
import { describe, expect, it } from 'vitest';
import { type FleetRedis, connectFleetRedis } from '../../god/core/redis.ts';
import { markChange } from '../../god/core/liveness.ts';
import { getStatus, joinStatus, STALE_AFTER_MS, waitHealthy } from '../../god/core/status.ts';
import type { ExpectedProcess, Provider } from '../../god/core/providers/types.ts';
import { HEARTBEAT_TTL_S, type Heartbeat } from '../../protocol/redis-contract.ts';
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
    plan: async () => [],
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
      expect(r.summary).toEqual({ expected: 4, up: 1, stale: 2, missing: 1, unexpected: 1, not_ready: 0 });
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

  it('reads heartbeats as the Redis contract defines them: a malformed value is no beat, not a Redis failure', async () => {
    const fr = await connect('st6:');
    const live = publisher(fr, 'endpoint', 'endpoint-1');
    try {
      await live.beat();
      // endpoint-2's key holds text that is not JSON; feeder-1's is JSON of another shape
      await fr.redis.set(fr.keys.heartbeat('endpoint', 'endpoint-2'), 'not json', 'EX', 30);
      await fr.redis.set(fr.keys.heartbeat('feeder', 'feeder-1'), '{"role":"feeder"}', 'EX', 30);
      await fr.redis.zadd(
        fr.keys.heartbeatIndex,
        Date.now(),
        'endpoint:endpoint-2',
        Date.now(),
        'feeder:feeder-1',
      );
      const r = await getStatus({ provider: fleetOf(EXPECTED.slice(0, 3)), redis: fr });
      expect(r.redis.ok).toBe(true);
      const by = Object.fromEntries(r.processes.map((p) => [p.id, p]));
      expect(by['endpoint-1']).toMatchObject({ state: 'up', pid: process.pid });
      // in the index but without a beat of the contract's shape: as good as expired
      expect(by['endpoint-2']).toMatchObject({ state: 'stale', pid: null });
      expect(by['feeder-1']).toMatchObject({ state: 'stale', pid: null });
    } finally {
      await live.stop();
      fr.close();
    }
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

  /** A heartbeat as a role writes it, left in Redis by a process that is gone; written `agoMs` ago by Redis's clock. */
  async function leftover(fr: FleetRedis, hb: Partial<Heartbeat> & { id: string }, agoMs = 0) {
    const full: Heartbeat = {
      role: 'endpoint',
      host: 'h1',
      pid: 999_999,
      version: '1.2.3',
      started_at: new Date(Date.now() - 60_000).toISOString(),
      at: new Date().toISOString(),
      rss: 1e8,
      cpu: 1,
      gauges: {},
      seq: 30,
      ...hb,
    };
    await fr.redis.set(
      fr.keys.heartbeat(full.role, full.id),
      JSON.stringify(full),
      'PX',
      HEARTBEAT_TTL_S * 1000 - agoMs,
    );
    await fr.redis.zadd(fr.keys.heartbeatIndex, Date.now(), `${full.role}:${full.id}`);
  }

  it('waitHealthy after a change does not pass on the heartbeat a killed process left behind', async () => {
    const fr = await connect('st3:');
    const exp = [EXPECTED[0]!];
    // endpoint-1 was SIGKILLed: its last heartbeat is fresh, stable-looking and of the right version
    await leftover(fr, { id: 'endpoint-1' });
    const mark = await markChange(fr.redis, fr.keys, exp);
    const fresh = publisher(fr, 'endpoint', 'endpoint-1');
    try {
      await expect(
        waitHealthy(fr, exp, { timeoutMs: 800, version: '1.2.3', since: mark, mode: 'new' }),
      ).rejects.toThrow(/endpoint-1 \(old: no heartbeat from a new process \(pid 999999 /);
      // nor in "alive" mode: it has not beaten since the mark
      await expect(waitHealthy(fr, exp, { timeoutMs: 800, since: mark, mode: 'alive' })).rejects.toThrow(
        /endpoint-1 \(old: pid 999999 has not beaten since the change began\)/,
      );
      // the restarted process (another start, here another publisher in this process) is what counts
      fresh.start();
      const r = await waitHealthy(fr, exp, { timeoutMs: 5000, version: '1.2.3', since: mark, mode: 'new' });
      expect(r.processes[0]).toMatchObject({ id: 'endpoint-1', pid: process.pid, state: 'up' });
    } finally {
      await fresh.stop();
      fr.close();
    }
  });

  it('waitHealthy does not pass on a process that beat once and died', async () => {
    const fr = await connect('st4:');
    const exp = [EXPECTED[0]!];
    try {
      const mark = await markChange(fr.redis, fr.keys, exp);
      await leftover(fr, { id: 'endpoint-1', pid: 4242, started_at: new Date().toISOString(), seq: 1 });
      await expect(waitHealthy(fr, exp, { timeoutMs: 800, since: mark, mode: 'new' })).rejects.toThrow(
        /endpoint-1 \(unstable: pid 4242 has beaten 1 of 3 times\)/,
      );
      // a release without seq is counted by its beats seen changing: one beat seen is one
      const { seq: _s, ...noSeq } = JSON.parse(
        (await fr.redis.get(fr.keys.heartbeat('endpoint', 'endpoint-1')))!,
      );
      await fr.redis.set(fr.keys.heartbeat('endpoint', 'endpoint-1'), JSON.stringify(noSeq), 'EX', 7);
      await expect(waitHealthy(fr, exp, { timeoutMs: 800 })).rejects.toThrow(
        /unstable: pid 4242 has beaten 1 of 3/,
      );
    } finally {
      fr.close();
    }
  });

  it("ages a heartbeat on Redis's clock, not the host's `at` against God's clock", async () => {
    const fr = await connect('st5:');
    try {
      // a host whose clock is an hour behind, beating right now
      await leftover(fr, { id: 'endpoint-1', at: new Date(Date.now() - 3600_000).toISOString() });
      // a host whose clock says "now" but whose last beat reached Redis 6 s ago (it hangs)
      await leftover(fr, { id: 'endpoint-2', at: new Date().toISOString() }, 6000);
      const r = await getStatus({ provider: fleetOf(EXPECTED.slice(0, 2)), redis: fr });
      const by = Object.fromEntries(r.processes.map((p) => [p.id, p]));
      expect(by['endpoint-1']).toMatchObject({ state: 'up' });
      expect(by['endpoint-1']!.heartbeat_age_s).toBeLessThan(2);
      expect(by['endpoint-2']).toMatchObject({ state: 'stale' });
      expect(by['endpoint-2']!.heartbeat_age_s).toBeGreaterThanOrEqual(5.9);
      await expect(waitHealthy(fr, [EXPECTED[1]!], { timeoutMs: 500 })).rejects.toThrow(
        /endpoint-2 \(stale: last beat 6\.\d s ago/,
      );
    } finally {
      fr.close();
    }
  });
});
