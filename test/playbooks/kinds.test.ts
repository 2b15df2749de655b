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
    // listed but not beating: nothing to stop
    expect(await planStep(pc, step('down', {}))).toEqual([]);
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
    const ownServices = { start: 'start the services', stop: 'stop the services' };
    const stopped = ctxOf(fakeProvider([], { ownServices, isRunning: async () => false }));
    expect(await planStep(stopped, step('provision', { role: 'keeper', count: 1, wait: true }))).toEqual([
      'start the services',
      'start keeper-1',
    ]);
    expect(await planStep(stopped, step('down', {}))).toEqual([]);
    const running = ctxOf(
      fakeProvider([proc('keeper', 'keeper-1')], { ownServices, isRunning: async () => true }),
    );
    expect(await planStep(running, step('down', {}))).toEqual(['stop keeper-1', 'stop the services']);
    expect(await planStep(running, step('down', { role: 'keeper' }))).toEqual(['stop keeper-1']);
  });

  it("publish_endpoints without a target uses the provider's default archive", async () => {
    const pc = ctxOf(fakeProvider([], { defaultArchive: () => 'file:///tmp/fleet/archive' }));
    (pc as { config: unknown }).config = { roles: { keeper: { options: {} } } };
    expect(await planStep(pc, step('publish_endpoints', {}))).toEqual([
      "write the endpoint list to file:///tmp/fleet/archive (the fleet's Redis is not up now)",
    ]);
  });
});
