// up / down / restart as services (god/core/operations.ts) over the in-memory provider: what they ask of the
// provider, in which order, what they report; planOp asks only for plans and changes nothing.
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../god/core/config/load.ts';
import { nullSink } from '../../god/core/events.ts';
import { downOp, PlanResultSchema, planOp, restartOp, upOp } from '../../god/core/operations.ts';
import { describeChange } from '../../god/core/providers/types.ts';
import { MemoryProvider } from '../harness/fake-provider.ts';

const config = parseConfigText(
  'roles:\n  feeder:\n    count: 1\n  endpoint:\n    count: 2\n  keeper:\n    count: 1\n',
  'god.config.yaml',
);
const ids = async (p: MemoryProvider) => (await p.expected()).map((x) => x.id);

describe('operations over a provider', () => {
  it('up of the fleet converges every role to its configured count, in role order', async () => {
    const p = new MemoryProvider();
    const r = await upOp({ provider: p, config, events: nullSink });
    expect(p.calls.filter((c) => c.startsWith('up'))).toEqual([
      'up feeder 1',
      'up endpoint 2',
      'up keeper 1',
    ]);
    expect(r).toMatchObject({ action: 'up', provider: 'local', role: null, count: null, healthy: null });
    expect(r.processes.map((x) => x.id)).toEqual(['feeder-1', 'endpoint-1', 'endpoint-2', 'keeper-1']);
    const one = await upOp({ provider: p, config, role: 'endpoint', count: 3, events: nullSink });
    expect(one).toMatchObject({ role: 'endpoint', count: 3 });
    expect(await ids(p)).toContain('endpoint-3');
  });

  it('waiting for no affected process is done at once, without Redis', async () => {
    const p = new MemoryProvider();
    const r = await upOp({
      provider: p,
      config,
      role: 'endpoint',
      count: 0,
      events: nullSink,
      wait: {
        redis: () => Promise.reject(new Error('Redis must not be asked')),
        timeoutMs: 1000,
      },
    });
    expect(r.healthy).toBe(true);
  });

  it('down and restart pass their target on and report it', async () => {
    const p = new MemoryProvider({ running: { endpoint: 2, keeper: 1 } });
    const d = await downOp({ provider: p, ids: ['endpoint-2'], events: nullSink });
    expect(d).toMatchObject({ action: 'down', role: null, ids: ['endpoint-2'] });
    expect(d.processes.map((x) => x.id)).toEqual(['endpoint-1', 'keeper-1']);
    const r = await restartOp({ provider: p, role: 'keeper', events: nullSink });
    expect(r).toMatchObject({ action: 'restart', role: 'keeper', ids: null, healthy: null });
    expect([...p.restarts]).toEqual([['keeper-1', 1]]);
    // no role and no ids: the whole fleet (undefined target), not an empty one
    await downOp({ provider: p, ids: [], events: nullSink });
    expect(p.calls).toContain('down all');
    expect(await ids(p)).toEqual([]);
  });

  it('planOp asks only for plans, lists a change shared by several ops once, and changes nothing', async () => {
    const p = new MemoryProvider();
    const plan = await planOp({ provider: p, config, action: 'up' });
    expect(PlanResultSchema.parse(plan)).toEqual(plan);
    expect(plan).toMatchObject({ action: 'up', dry_run: true, role: null, count: null, ids: null });
    // every role's plan would start the machine: once
    expect(plan.changes.map(describeChange)).toEqual([
      'start machine memory',
      'start process feeder-1',
      'start process endpoint-1',
      'start process endpoint-2',
      'start process keeper-1',
    ]);
    expect(p.calls).toEqual(['plan up feeder 1', 'plan up endpoint 2', 'plan up keeper 1']);
    expect(await ids(p)).toEqual([]);

    // applying the plan's op does what it listed
    await upOp({ provider: p, config, events: nullSink });
    expect(await ids(p)).toEqual(['feeder-1', 'endpoint-1', 'endpoint-2', 'keeper-1']);
    const again = await planOp({ provider: p, config, action: 'up', role: 'endpoint' });
    expect(again).toMatchObject({ role: 'endpoint', count: 2, changes: [] });
    const down = await planOp({ provider: p, config, action: 'down', role: 'endpoint', ids: ['endpoint-1'] });
    expect(down.changes.map(describeChange)).toEqual(['stop process endpoint-1']);
    expect(down.ids).toEqual(['endpoint-1']);
    const restart = await planOp({ provider: p, config, action: 'restart', ids: ['endpoint-2'] });
    expect(restart.changes.map(describeChange)).toEqual(['restart process endpoint-2']);
    expect(p.restarts.size).toBe(0);
  });

  it("planOp fails with the provider's error", async () => {
    const p = new MemoryProvider({ running: { endpoint: 1 } });
    await expect(planOp({ provider: p, config, action: 'down', ids: ['endpoint-7'] })).rejects.toMatchObject({
      code: 'GOD_TARGET',
    });
  });
});
