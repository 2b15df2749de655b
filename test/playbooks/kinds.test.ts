// The step-kind registry (god/core/playbook/kinds/): every kind is one module, and the schema, the hints, the
// default names and the README's table all come from (or agree with) that list. And the kinds plan from what
// the provider says about itself (its capabilities), never from its `kind`: fake providers in memory.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { durationMs } from '../../kernel/units.ts';
import { nullSink } from '../../god/core/events.ts';
import { CHECK_HINTS, CHECK_NAMES } from '../../god/core/playbook/conditions-schema.ts';
import type { PlayContext } from '../../god/core/playbook/context.ts';
import { kindModule, STEP_KIND_MODULES } from '../../god/core/playbook/kinds/index.ts';
import { parsePlaybookText, playbookHint } from '../../god/core/playbook/load.ts';
import { STEP_KINDS, type Step, StepSchema } from '../../god/core/playbook/schema.ts';
import { planStep } from '../../god/core/playbook/steps.ts';
import type { ExpectedProcess, Provider } from '../../god/core/providers/types.ts';
import { MemoryProvider } from '../harness/fake-provider.ts';

const README = fs.readFileSync(path.resolve(import.meta.dirname, '../../playbooks/README.md'), 'utf8');

describe('step kinds registry', () => {
  it('lists each kind once, and STEP_KINDS is that list', () => {
    expect([...STEP_KINDS]).toEqual(STEP_KIND_MODULES.map((m) => m.kind));
    expect(new Set(STEP_KINDS).size).toBe(STEP_KINDS.length);
  });

  it.each(STEP_KINDS)('%s has a schema, hint, default name and timeout, plan and run', (kind) => {
    const m = kindModule(kind);
    expect(m.kind).toBe(kind);
    expect(m.hint.length).toBeGreaterThan(10);
    expect(durationMs.parse(m.timeout)).toBeGreaterThan(0);
    expect(typeof m.plan).toBe('function');
    expect(typeof m.run).toBe('function');
    // its example is a valid step of that kind, and gets a default name from it
    const step = StepSchema.parse({ [kind]: m.example });
    expect(step[kind]).toBeDefined();
    expect(m.defaultName(step[kind]).length).toBeGreaterThan(0);
    // a problem in its arguments gets its hint
    expect(playbookHint(`steps.0.${kind}`)).toBe(m.hint);
    expect(playbookHint(`steps.3.${kind}.nope`)).toBe(m.hint);
    // and the README documents it
    expect(README).toContain(`| \`${kind}\` |`);
  });

  it('a playbook step of each kind loads with that kind and the default name of its module', () => {
    const text = `name: all\nsteps:\n${STEP_KINDS.map(
      (k) => `  - ${k}: ${JSON.stringify(kindModule(k).example)}`,
    ).join('\n')}\n`;
    const pb = parsePlaybookText(text, 'all.yaml');
    expect(pb.steps.map((s) => s.kind)).toEqual([...STEP_KINDS]);
    for (const s of pb.steps) expect(s.name).toBe(kindModule(s.kind).defaultName(s.args));
  });

  it('every check of wait and assert has its own hint', () => {
    for (const kind of ['wait', 'assert'] as const) {
      for (const check of CHECK_NAMES) {
        expect(playbookHint(`steps.1.${kind}.${check}`)).toBe(CHECK_HINTS[check]);
        expect(playbookHint(`steps.1.${kind}.${check}.x`)).toBe(CHECK_HINTS[check]);
      }
    }
  });
});

/** A provider in memory: these processes, plus the capabilities given. `kind` is deliberately unhelpful. */
function fakeProvider(procs: ExpectedProcess[], caps: Partial<Provider> = {}): Provider {
  return {
    kind: 'local',
    machines: async () => [],
    expected: async () => procs,
    up: async () => {},
    down: async () => {},
    restart: async () => {},
    plan: async () => {
      throw new Error('these tests plan steps that read the capabilities, not the plan');
    },
    close: async () => {},
    ...caps,
  };
}

/** A context whose fleet Redis is not reachable: plans see no heartbeats (nothing is up). */
const ctxOf = (provider: Provider) =>
  ({
    provider,
    events: nullSink,
    dryRun: true,
    env: {},
    cwd: process.cwd(),
    tryRedis: async () => undefined,
  }) as unknown as PlayContext;

const step = (kind: Step['kind'], args: unknown): Step =>
  ({ index: 1, name: kind, continue_on_error: false, kind, args }) as Step;

const proc = (role: ExpectedProcess['role'], id: string, host = 'h') => ({ role, id, host });

describe('kinds plan from the provider capabilities', () => {
  it('numbered processes (the default): start the lowest free numbers, stop the highest', async () => {
    const pc = ctxOf(fakeProvider([proc('endpoint', 'endpoint-2')]));
    expect(await planStep(pc, step('provision', { role: 'endpoint', count: 3, wait: true }))).toEqual([
      'start endpoint-1',
      'start endpoint-3',
    ]);
  });

  it('an inventory (listsStoppedProcesses): the first COUNT listed hosts start, a count too big cannot', async () => {
    const pc = ctxOf(
      fakeProvider([proc('endpoint', 'endpoint-a', 'a'), proc('endpoint', 'endpoint-b', 'b')], {
        listsStoppedProcesses: true,
      }),
    );
    expect(await planStep(pc, step('provision', { role: 'endpoint', count: 1, wait: true }))).toEqual([
      'start endpoint-a on a',
    ]);
    expect(await planStep(pc, step('provision', { role: 'endpoint', count: 3, wait: true }))).toEqual([
      'cannot: only 2 host(s) list endpoint',
      'start endpoint-a on a',
      'start endpoint-b on b',
    ]);
  });

  it('a machine per process (machinePerProcess): converging creates or terminates machines', async () => {
    const pc = ctxOf(fakeProvider([proc('feeder', 'feeder-i-1')], { machinePerProcess: true }));
    expect(await planStep(pc, step('provision', { role: 'feeder', count: 3, wait: true }))).toEqual([
      'create 2 feeder instance(s)',
    ]);
    expect(await planStep(pc, step('provision', { role: 'feeder', count: 0, wait: true }))).toEqual([
      'terminate 1 feeder instance(s)',
    ]);
  });

  it('own services: started with a stopped fleet, stopped by down of everything while it runs', async () => {
    const ownServices = { start: 'start the services' };
    const stopped = ctxOf(fakeProvider([], { ownServices, isRunning: async () => false }));
    expect(await planStep(stopped, step('provision', { role: 'keeper', count: 1, wait: true }))).toEqual([
      'start the services',
      'start keeper-1',
    ]);
    // a fleet stopped as a whole has nothing to stop, restart or deploy (its plan is not even asked)
    expect(await planStep(stopped, step('down', {}))).toEqual([]);
    expect(await planStep(stopped, step('restart', {}))).toEqual([]);
    expect(await planStep(stopped, step('deploy', {}))).toEqual([]);
  });

  it("down, restart and deploy say the provider's own plan (what `god … --dry-run` prints)", async () => {
    const provider = new MemoryProvider({ running: { endpoint: 2, keeper: 1 } });
    const pc = ctxOf(provider);
    // down of everything: what the fleet runs besides its processes too (here its machine)
    expect(await planStep(pc, step('down', {}))).toEqual([
      'stop endpoint-1',
      'stop endpoint-2',
      'stop keeper-1',
      'stop machine memory',
    ]);
    expect(await planStep(pc, step('down', { role: 'keeper' }))).toEqual(['stop keeper-1']);
    expect(await planStep(pc, step('restart', { ids: ['endpoint-2'] }))).toEqual(['restart endpoint-2']);
    // a deploy to a fleet on this machine: the processes its plan restarts, by batches
    expect(await planStep(pc, step('deploy', { batch: 2 }))).toEqual([
      'batch 1/2: restart endpoint-1, endpoint-2',
      'batch 2/2: restart keeper-1',
    ]);
    expect(await planStep(pc, step('deploy', { roles: ['keeper'] }))).toEqual([
      'batch 1/1: restart keeper-1',
    ]);
    expect(await planStep(pc, step('deploy', { roles: ['feeder'] }))).toEqual([]);
    expect(provider.calls.filter((c) => c.startsWith('plan'))).toEqual([
      'plan down all',
      'plan down keeper',
      'plan restart endpoint-2',
      'plan deploy all',
      'plan deploy keeper-1',
    ]);
    // its errors are the step's: an unknown id fails the plan as it would fail the op
    await expect(planStep(pc, step('restart', { ids: ['endpoint-9'] }))).rejects.toMatchObject({
      code: 'GOD_TARGET',
    });
    expect(provider.restarts.size).toBe(0);
  });

  it("publish_endpoints without a target uses the provider's default archive", async () => {
    const pc = ctxOf(fakeProvider([], { defaultArchive: () => 'file:///tmp/fleet/archive' }));
    (pc as { config: unknown }).config = { roles: { keeper: { options: {} } } };
    expect(await planStep(pc, step('publish_endpoints', {}))).toEqual([
      "write the endpoint list to file:///tmp/fleet/archive (the fleet's Redis is not up now)",
    ]);
  });
});
