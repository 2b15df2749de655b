// waitHealthy's progress and its failure, against a real Redis with heartbeats written by hand: one `health`
// event per expected process as it turns healthy (never for a process still waited on, nor for one that beats
// but is not expected, nor twice), and at the deadline a GOD_UNHEALTHY error naming each one and why.
import { describe, expect, it } from 'vitest';
import type { GodEvent } from '../../god/core/events.ts';
import type { ExpectedProcess } from '../../god/core/providers/types.ts';
import { connectFleetRedis } from '../../god/core/redis.ts';
import { waitHealthy } from '../../god/core/status.ts';
import { UserError } from '../../kernel/errors.ts';
import { HEARTBEAT_TTL_S, type Heartbeat } from '../../protocol/redis-contract.ts';
import { useRedis } from '../harness/index.ts';

const server = useRedis();

const EXP: ExpectedProcess[] = [
  { role: 'endpoint', id: 'endpoint-1', host: 'h1' },
  { role: 'feeder', id: 'feeder-1', host: 'h1' },
  { role: 'keeper', id: 'keeper-1', host: 'h1' },
];

describe('waitHealthy progress and failure', () => {
  it('emits one health event per process turning healthy, and names the others with why at the deadline', async () => {
    const fr = await connectFleetRedis(server().url, { prefix: 'sw1:' });
    const beat = async (hb: Partial<Heartbeat> & Pick<Heartbeat, 'role' | 'id'>) => {
      const full: Heartbeat = {
        host: 'h1',
        pid: 4242,
        version: '1.0',
        started_at: '2026-01-01T00:00:00.000Z',
        at: new Date().toISOString(),
        rss: 1,
        cpu: 0,
        gauges: {},
        seq: 9,
        ...hb,
      };
      await fr.redis.set(fr.keys.heartbeat(full.role, full.id), JSON.stringify(full), 'EX', HEARTBEAT_TTL_S);
      await fr.redis.zadd(fr.keys.heartbeatIndex, Date.now(), `${full.role}:${full.id}`);
    };
    try {
      await beat({ role: 'endpoint', id: 'endpoint-1', pid: 101 });
      await beat({ role: 'feeder', id: 'feeder-1', pid: 102, seq: 1 }); // beat once: not stable
      await beat({ role: 'endpoint', id: 'endpoint-9', pid: 109 }); // beats, but nobody expects it
      const events: GodEvent[] = [];
      const t0 = Date.now();
      const err = await waitHealthy(fr, EXP, {
        timeoutMs: 1200,
        events: { emit: (e) => events.push(e) },
      }).then(
        () => undefined,
        (e: unknown) => e,
      );
      const took = Date.now() - t0;
      expect(err).toBeInstanceOf(UserError);
      const u = err as UserError;
      expect(u.message).toBe(
        'not healthy after 1 s: feeder-1 (unstable: pid 102 has beaten 1 of 3 times), keeper-1 (missing)',
      );
      expect(u.code).toBe('GOD_UNHEALTHY');
      expect(u.hint).toMatch(/god logs --role ROLE --level warn/);
      // several polls happened, yet one event, for the one healthy expected process
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({
        type: 'host',
        step: 'health',
        host: 'endpoint-1',
        phase: 'end',
        ok: true,
        detail: 'pid 101, 1.0',
      });
      const ms = (events[0] as { ms: number }).ms;
      expect(ms).toBeGreaterThanOrEqual(0);
      expect(ms).toBeLessThanOrEqual(took);

      // the rest turn healthy: their events follow, the first one is not repeated
      await beat({ role: 'feeder', id: 'feeder-1', pid: 102, seq: 3 });
      await beat({ role: 'keeper', id: 'keeper-1', pid: 103 });
      const r = await waitHealthy(fr, EXP, { timeoutMs: 5000, events: { emit: (e) => events.push(e) } });
      expect(r.summary.up).toBe(3);
      expect(
        events
          .slice(1)
          .map((e) => (e as { host: string }).host)
          .sort(),
      ).toEqual(['endpoint-1', 'feeder-1', 'keeper-1']);
    } finally {
      fr.close();
    }
  });
});
