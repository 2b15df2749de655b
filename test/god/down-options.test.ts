// The down options (god/core/drain.ts DOWN_OPTIONS) reach every way of taking endpoints down: the playbook
// `down` step (force, drain_timeout) and the dashboard's down keys (x drains with GOD_DRAIN_TIMEOUT, X forces),
// not only `god down` (test/god/drain.test.ts). Real redis-server and real endpoints (in this process) whose
// ids are the in-memory provider's, so the drain God sends is the real control message and the record the
// endpoint marks draining is the real one.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { downFlags } from '../../god/core/drain.ts';
import type { GodEvent } from '../../god/core/events.ts';
import type { PlayContext } from '../../god/core/playbook/context.ts';
import { parsePlaybookText } from '../../god/core/playbook/load.ts';
import type { Step } from '../../god/core/playbook/schema.ts';
import { runStep } from '../../god/core/playbook/steps.ts';
import { connectFleetRedis, type FleetRedis } from '../../god/core/redis.ts';
import { defaultConfig } from '../../god/core/config/load.ts';
import { startEndpoint, type StartedEndpoint } from '../endpoint/helpers.ts';
import { MemoryProvider } from '../harness/fake-provider.ts';
import { makeTempDir, useRedis, waitFor } from '../harness/index.ts';

process.env.FORCE_COLOR = '0';
const { cleanup } = await import('ink-testing-library');
const { mount, syntheticStore } = await import('../tui/fixtures.ts');
const { coreActions } = await import('../../god/tui/core-actions.ts');

const server = useRedis();
const opened: FleetRedis[] = [];
const endpoints: StartedEndpoint[] = [];
afterEach(async () => {
  cleanup();
  for (const e of endpoints.splice(0)) await e.stop();
});
afterAll(() => {
  for (const fr of opened) fr.close();
});

let seq = 0;
/** A fresh prefix with real endpoints endpoint-1..n in its registry, and the memory provider listing them. */
async function fleet(n: number) {
  const prefix = `dopt${++seq}:`;
  const fr = await connectFleetRedis(server().url, { prefix });
  opened.push(fr);
  for (let i = 1; i <= n; i++)
    endpoints.push(await startEndpoint(server().url, prefix, ['--id', `endpoint-${i}`]));
  await waitFor(
    async () => (await fr.redis.zcard(fr.keys.endpointIndex)) === n,
    10_000,
    `${n} endpoints in the registry`,
  );
  const provider = new MemoryProvider({ running: { endpoint: n } });
  const events: GodEvent[] = [];
  return { fr, provider, events, sink: { emit: (e: GodEvent) => events.push(e) } };
}

const drainEvents = (events: GodEvent[]) =>
  events.filter((e) => e.type === 'host' && e.step === 'drain') as Array<Extract<GodEvent, { type: 'host' }>>;

/** An endpoint record that hears nothing and holds 5 clients forever: only the timeout ends its drain. */
async function stuckRecord(fr: FleetRedis, id: string) {
  const rec = { id, host: '127.0.0.1', port: 1, tls: false, clients: 5, capacity: 10, soft_limit: 8 };
  await fr.redis.set(
    fr.keys.endpoint(id),
    JSON.stringify({ ...rec, draining: false, at: new Date().toISOString() }),
  );
  await fr.redis.zadd(fr.keys.endpointIndex, Date.now(), id);
  const listener = fr.redis.duplicate();
  await listener.subscribe(fr.keys.control('endpoint', id)); // one receiver: God waits for it
  return listener;
}

describe('the playbook down step drains like god down', () => {
  function ctx(f: Awaited<ReturnType<typeof fleet>>): PlayContext {
    return {
      provider: f.provider,
      config: defaultConfig(),
      events: f.sink,
      dryRun: false,
      env: {},
      cwd: makeTempDir('down-step'),
      startedAt: Date.now(),
      redis: async () => f.fr,
      tryRedis: async () => f.fr,
      pool: () => {
        throw new Error('no SSH here');
      },
      clients: new Map(),
      steps: [],
      marks: { steps: new Map() },
      targeted: new Map(),
    };
  }
  const stepOf = (yaml: string): Step =>
    parsePlaybookText(`name: t\nsteps:\n  - ${yaml}\n`, 't.yaml').steps[0]!;

  it('drains the endpoint before the provider stops it; the last one needs force: true', async () => {
    const f = await fleet(2);
    const pc = ctx(f);
    await runStep(pc, stepOf('down: { ids: [endpoint-1] }'));
    const drain = drainEvents(f.events);
    expect(drain[0]).toMatchObject({ host: 'endpoint-1', phase: 'start' });
    expect(drain.at(-1)).toMatchObject({ host: 'endpoint-1', phase: 'end', ok: true });
    // the drain happened on the endpoint itself: its record says draining
    const rec = JSON.parse((await f.fr.redis.get(f.fr.keys.endpoint('endpoint-1')))!);
    expect(rec.draining).toBe(true);
    expect(f.provider.calls).toContain('down endpoint-1');

    // endpoint-2 is the last: a play has no one to ask
    await expect(runStep(pc, stepOf('down: { ids: [endpoint-2] }'))).rejects.toMatchObject({
      code: 'GOD_LAST_ENDPOINT',
    });
    expect(f.provider.calls).not.toContain('down endpoint-2');
    f.events.length = 0;
    await runStep(pc, stepOf('down: { ids: [endpoint-2], force: true }'));
    expect(f.provider.calls).toContain('down endpoint-2');
    expect(drainEvents(f.events)).toEqual([]);
  });

  it('drain_timeout bounds the wait; a bad one is refused with its line', async () => {
    const f = await fleet(1);
    f.provider.calls.length = 0;
    await f.provider.up('endpoint', 2); // endpoint-2: a record that never lets go
    const listener = await stuckRecord(f.fr, 'endpoint-2');
    try {
      await runStep(ctx(f), stepOf('down: { ids: [endpoint-2], drain_timeout: 300ms }'));
      expect(drainEvents(f.events).at(-1)).toMatchObject({
        host: 'endpoint-2',
        ok: false,
        error: expect.stringContaining('after 300 ms'),
      });
      expect(f.provider.calls).toContain('down endpoint-2');
    } finally {
      listener.disconnect();
    }
    expect(() => stepOf('down: { ids: [endpoint-2], drain_timeout: soon }')).toThrow(/t\.yaml:3/);
  });
});

describe("the dashboard's down keys drain like god down", () => {
  const actionsOf = (f: Awaited<ReturnType<typeof fleet>>, env: NodeJS.ProcessEnv = {}) => ({
    ...coreActions({
      provider: f.provider,
      config: defaultConfig(),
      fleetRedis: f.fr,
      events: f.sink,
      down: downFlags({}, env),
    }),
    quit: () => {},
  });

  it('x drains the selected endpoint first, X stops without a drain', async () => {
    const f = await fleet(2);
    const store = syntheticStore(); // rows endpoint-1 (selected), endpoint-2, ...
    const app = mount(store, actionsOf(f));
    await app.press('x', 'y');
    await waitFor(() => f.provider.calls.includes('down endpoint-1'), 10_000, 'endpoint-1 down');
    const drain = drainEvents(f.events);
    expect(drain.map((e) => `${e.host} ${e.phase}`)).toEqual(
      expect.arrayContaining(['endpoint-1 start', 'endpoint-1 end']),
    );
    expect(JSON.parse((await f.fr.redis.get(f.fr.keys.endpoint('endpoint-1')))!).draining).toBe(true);

    f.events.length = 0;
    await app.press('j', 'X', 'y'); // endpoint-2, the last one: forced, so neither drained nor asked about
    await waitFor(() => f.provider.calls.includes('down endpoint-2'), 10_000, 'endpoint-2 down');
    expect(drainEvents(f.events)).toEqual([]);
    expect(JSON.parse((await f.fr.redis.get(f.fr.keys.endpoint('endpoint-2')))!).draining).toBe(false);
  });

  it('x waits GOD_DRAIN_TIMEOUT, and asks before the last endpoint (n keeps it)', async () => {
    const f = await fleet(1);
    await f.provider.up('endpoint', 2);
    const listener = await stuckRecord(f.fr, 'endpoint-2');
    try {
      const store = syntheticStore();
      const app = mount(store, actionsOf(f, { GOD_DRAIN_TIMEOUT: '300ms' }));
      await app.press('j', 'x', 'y');
      await waitFor(() => f.provider.calls.includes('down endpoint-2'), 10_000, 'endpoint-2 down');
      expect(drainEvents(f.events).at(-1)).toMatchObject({
        host: 'endpoint-2',
        ok: false,
        error: expect.stringContaining('after 300 ms'),
      });
      // endpoint-1 is now the last: a second question, and no keeps it running
      await app.press('k', 'x', 'y');
      await waitFor(() => store.view.mode.kind === 'confirm', 5000, 'the last-endpoint question');
      await app.press('n');
      await waitFor(() => /not taking down endpoint-1/.test(store.view.notice?.text ?? ''), 5000, 'refusal');
      expect(f.provider.calls).not.toContain('down endpoint-1');
    } finally {
      listener.disconnect();
    }
  });
});
