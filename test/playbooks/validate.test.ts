// `god play` validation: the whole file is checked before anything runs, every problem with its line and a
// hint; variables from --var, GOD_VAR_<NAME> and GOD_PLAY_VARS; a dry run of launch.yaml against no fleet
// starts nothing.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ErrorLineSchema, EventLineSchema } from '../../god/cli/output.ts';
import { loadPlaybook, PlaybookError, parsePlaybookText } from '../../god/core/playbook/load.ts';
import { findProcessesUsing, makeTempDir } from '../harness/index.ts';
import { godIn, resultOf } from '../god/cli-helpers.ts';
import { PlayResultSchema } from '../../god/core/playbook/runner.ts';

const PLAYBOOKS = path.resolve(import.meta.dirname, '../../playbooks');

const BROKEN = `name: broken
vars:
  n: 2
steps:
  - provision: { role: endpiont, count: 2 }
  - wait: { healthy: { role: endpoint, cuont: 2 } }
  - deploy: {}
    provision: { role: keeper, count: 1 }
  - shed: { endpoint: busiest, clients: 0 }
  - assert: { client: { count: "\${{ nope }}" } }
  - frobnicate: {}
  - wait: {}
    timeout: soon
`;

const ProblemEvent = z.object({
  type: z.literal('error'),
  message: z.string(),
  hint: z.string().min(10),
  data: z.object({
    file: z.string(),
    line: z.number().int().nullable(),
    column: z.number().int().nullable(),
    path: z.string(),
  }),
});

function problemsOf(text: string, vars: { flags?: string[]; env?: NodeJS.ProcessEnv } = {}) {
  try {
    parsePlaybookText(text, 'p.yaml', vars);
  } catch (err) {
    if (err instanceof PlaybookError) return err.problems;
    throw err;
  }
  throw new Error('expected the playbook to be refused');
}

describe('god play: validation', () => {
  it('reports every problem of a broken playbook with its line, path and a hint, and runs nothing', async () => {
    const dir = makeTempDir('play-validate');
    fs.writeFileSync(path.join(dir, 'broken.yaml'), BROKEN);
    const r = await godIn(['play', 'broken.yaml', '--json'], { cwd: dir });
    expect(r.code).toBe(2);
    const fatal = ErrorLineSchema.parse(r.lines.at(-1));
    expect(fatal.code).toBe('GOD_PLAYBOOK');
    expect(fatal.message).toMatch(/8 problems in playbook broken\.yaml/);
    const problems = r.lines.slice(0, -1).map((l) => ProblemEvent.parse(l).data);
    expect(problems.map((p) => [p.line, p.path])).toEqual([
      [5, 'steps.0.provision.role'],
      [6, 'steps.1.wait.healthy.cuont'],
      [7, 'steps.2.deploy'],
      [9, 'steps.3.shed.clients'],
      [10, 'steps.4.assert.client.count'],
      [11, 'steps.5.frobnicate'],
      [12, 'steps.6.wait'],
      [13, 'steps.6.timeout'],
    ]);
    const messages = r.lines.slice(0, -1).map((l) => String(l.message));
    expect(messages.find((m) => m.includes('steps.0.provision.role'))).toMatch(/"endpiont"/);
    expect(messages.find((m) => m.includes('steps.4'))).toMatch(/\$\{\{ nope \}\}.*not a declared variable/);
    expect(messages.find((m) => m.includes('steps.2'))).toMatch(/provision and deploy/);
    // nothing was started: no state dir, no process
    expect(fs.existsSync(path.join(dir, '.god'))).toBe(false);
    expect(findProcessesUsing(dir)).toEqual([]);
  });

  it('plain output names file:line for each problem; YAML syntax errors have their line', async () => {
    const dir = makeTempDir('play-validate');
    fs.writeFileSync(
      path.join(dir, 'syn.yaml'),
      'name: x\nsteps:\n  - provision: {role: keeper\n  - down:\n',
    );
    const r = await godIn(['play', 'syn.yaml'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/syn\.yaml:\d+:\d+ \(file\): YAML syntax/);
    expect(r.stderr).toMatch(/hint: /);
    const missing = await godIn(['play', 'nope.yaml'], { cwd: dir });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/playbook nope\.yaml does not exist/);
  });

  it('variables: defaults, GOD_PLAY_VARS < GOD_VAR_<NAME> < --var, typed like their defaults', () => {
    const text = `name: v
vars:
  n: 2
  who: keeper
  wait: true
steps:
  - provision: { role: "\${{ who }}", count: "\${{ n }}", wait: "\${{ wait }}" }
    name: "scale \${{ who }} to \${{ n }}"
`;
    const pb = (flags: string[], env: NodeJS.ProcessEnv = {}) =>
      parsePlaybookText(text, 'v.yaml', { flags, env });
    const step = (p: ReturnType<typeof pb>) =>
      p.steps[0] as Extract<(typeof p.steps)[0], { kind: 'provision' }>;
    expect(step(pb([])).args).toEqual({ role: 'keeper', count: 2, wait: true });
    expect(step(pb([])).name).toBe('scale keeper to 2');
    expect(step(pb([], { GOD_PLAY_VARS: 'n=3,who=feeder' })).args).toMatchObject({
      role: 'feeder',
      count: 3,
    });
    expect(step(pb([], { GOD_PLAY_VARS: 'n=3', GOD_VAR_N: '4' })).args.count).toBe(4);
    expect(step(pb(['n=5', 'wait=no'], { GOD_VAR_N: '4' })).args).toMatchObject({ count: 5, wait: false });
    // a value of the wrong type points at the default's line; an undeclared name is refused
    const bad = problemsOf(text, { flags: ['n=many', 'zz=1'] });
    expect(bad.map((p) => [p.line ?? null, p.path])).toEqual([
      [null, ''],
      [3, 'vars.n'],
    ]);
    expect(bad[0]!.message).toMatch(/--var sets zz, which the playbook does not declare/);
    expect(bad[1]!.message).toMatch(/must be a number \(got "many"\)/);
    // a substituted value is still checked by the schema, at the line that uses it
    const role = problemsOf(text, { flags: ['who=boss'] });
    expect(role.map((p) => [p.line, p.path])).toEqual([[7, 'steps.0.provision.role']]);
  });

  it('every shipped playbook is valid, documented at its top, and each names its steps', () => {
    const files = fs.readdirSync(PLAYBOOKS).filter((f) => f.endsWith('.yaml'));
    expect(files.sort()).toEqual(
      expect.arrayContaining(['drill.yaml', 'launch.yaml', 'rolling-deploy.yaml', 'scale-endpoints.yaml']),
    );
    for (const f of files) {
      const text = fs.readFileSync(path.join(PLAYBOOKS, f), 'utf8');
      expect(
        text
          .split('\n')
          .slice(0, 3)
          .every((l) => l.startsWith('#')),
        `${f} starts with comments`,
      ).toBe(true);
      const pb = loadPlaybook(path.join(PLAYBOOKS, f));
      expect(pb.steps.length).toBeGreaterThan(2);
      for (const s of pb.steps) expect(s.line).toBeGreaterThan(0);
    }
  });

  it('--dry-run of launch.yaml against no fleet prints the plan and starts nothing', async () => {
    const dir = makeTempDir('play-dry');
    const r = await godIn(['play', path.join(PLAYBOOKS, 'launch.yaml'), '--dry-run', '--json'], { cwd: dir });
    const res = resultOf(r, 'play', PlayResultSchema);
    expect(res.dry_run).toBe(true);
    expect(res.steps.map((s) => s.status)).toEqual([
      'skipped', // deploy is for ssh/ec2
      'planned',
      'planned',
      'planned',
      'planned',
      'planned',
      'planned',
    ]);
    expect(res.steps[3]!.changes).toEqual(expect.arrayContaining(['start endpoint-1', 'start endpoint-2']));
    for (const l of r.lines.slice(0, -1)) EventLineSchema.parse(l);
    expect(fs.existsSync(path.join(dir, '.god'))).toBe(false);
    expect(findProcessesUsing(dir)).toEqual([]);
  });
});
