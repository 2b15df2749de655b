// The shipped playbooks against the local provider (a real supervisor, redis-server and role processes):
// launch.yaml from nothing (NDJSON events checked with zod), launch.yaml again (nothing changes, and the
// events say so), dry runs that change nothing, rolling-deploy.yaml, scale-endpoints.yaml, a failing step.
import fs from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventLineSchema } from '../../god/cli/output.ts';
import { readState } from '../../god/core/local/state.ts';
import { PlayResultSchema, PlayStepEventDataSchema } from '../../god/core/playbook/runner.ts';
import { endpointSetKey, parseEndpointList } from '../../protocol/endpoint-list.ts';
import { redisContract } from '../../protocol/redis-contract.ts';
import { makeTempDir } from '../harness/index.ts';
import { type GodRun, godIn, resultOf } from '../god/cli-helpers.ts';

const PLAYBOOKS = path.resolve(import.meta.dirname, '../../playbooks');
const TEST_CATALOG = path.resolve(import.meta.dirname, '../../data/test-catalog.json');
const keys = redisContract('fg:');

/** The playbook step events of a --json run (`step` events whose data names the play). */
function playSteps(r: GodRun) {
  return r.lines
    .filter((l) => l.type === 'step' && (l.data as { index?: number } | undefined)?.index !== undefined)
    .map((l) => {
      const ev = EventLineSchema.parse(l);
      if (ev.type !== 'step') throw new Error(`not a step event: ${JSON.stringify(l)}`);
      return { ev, data: PlayStepEventDataSchema.parse(l.data), phase: l.phase };
    });
}

describe('playbooks against the local provider', () => {
  let dir: string;
  let stateDir: string;
  const play = (file: string, ...args: string[]) =>
    godIn(['play', path.isAbsolute(file) ? file : path.join(PLAYBOOKS, file), ...args], { cwd: dir });

  beforeAll(() => {
    dir = makeTempDir('play-local');
    stateDir = path.join(dir, '.god/local');
    fs.writeFileSync(
      path.join(dir, 'god.config.yaml'),
      `roles:
  feeder:
    options: { catalog: ${TEST_CATALOG}, rate: 5 }
local:
  restart: { backoff_min: 200ms, backoff_max: 2s, stable_after: 5s }
  stop_timeout: 8s
`,
    );
  });
  afterAll(async () => {
    await godIn(['down', '--yes'], { cwd: dir }); // a failed test must not leave the fleet running
  });

  /** What a dry run must not touch: every pid, each process's start, the endpoint set, the deploy lock. */
  async function fleetSnapshot() {
    const st = readState(stateDir)!;
    const redis = new Redis(st.redis_url);
    try {
      const beats = await Promise.all(
        st.processes.map(async (p) => [
          p.id,
          JSON.parse((await redis.get(keys.heartbeat(p.role, p.id)))!).started_at,
        ]),
      );
      const list = await redis.get(keys.endpointList);
      return {
        supervisor: st.supervisor_pid,
        redis: st.redis_pid,
        processes: st.processes.map((p) => [p.id, p.pid]).sort(),
        beats: beats.sort(),
        endpointSet: list ? endpointSetKey(parseEndpointList(list)) : null,
        lock: await redis.get(keys.deployLock),
      };
    } finally {
      redis.disconnect();
    }
  }

  it('a play against a fleet that is not running says so and how to start it, and runs no check', async () => {
    const r = await play('drill.yaml', '--json');
    expect(r.code).toBe(1);
    const res = PlayResultSchema.parse(r.lines.at(-1)!.data);
    expect(res.failed_step).toEqual({
      index: 1,
      name: 'the fleet is healthy; clients connect',
      error:
        'step 1 (the fleet is healthy; clients connect) needs a running fleet, and the local fleet is not running',
    });
    expect(res.steps[0]!.hint).toBe(
      'Start the fleet with `god up` (or `god play playbooks/launch.yaml`), then run this playbook again.',
    );
    expect(res.steps.slice(1).map((s) => s.status)).toEqual(Array(res.steps.length - 1).fill('skipped'));
    // the checks were not tried one by one against nothing
    expect(r.stdout).not.toMatch(/assertion failed|✗/);
    const plain = await play('drill.yaml');
    expect(plain.code).toBe(1);
    expect(plain.stdout + plain.stderr).toMatch(/the local fleet is not running/);
    expect(plain.stdout + plain.stderr).toMatch(/→ Start the fleet with `god up`/);
    expect(readState(stateDir)?.processes ?? []).toEqual([]);
  }, 60_000);

  it('launch.yaml brings the fleet up from nothing; --json events have the documented shapes', async () => {
    const r = await play('launch.yaml', '--json');
    const res = resultOf(r, 'play', PlayResultSchema);
    expect(res.ok).toBe(true);
    expect(res.steps.map((s) => [s.kind, s.status, s.changed])).toEqual([
      ['deploy', 'skipped', false],
      ['provision', 'ok', true],
      ['provision', 'ok', true],
      ['provision', 'ok', true],
      ['wait', 'ok', false],
      ['publish_endpoints', 'ok', expect.any(Boolean)],
      ['assert', 'ok', false],
    ]);
    expect(res.steps[1]!.changes).toContain('start keeper-1');
    expect(res.steps[3]!.changes).toEqual(['start endpoint-1', 'start endpoint-2']);
    expect(res.steps[6]!.detail).toMatch(/2 client\(s\) got set_movies/);
    // every executed step: one start then one end with ok, ms and the step's data
    const steps = playSteps(r);
    for (const i of [2, 3, 4, 5, 6, 7]) {
      const mine = steps.filter((s) => s.data.index === i);
      expect(
        mine.map((s) => s.phase),
        `step ${i}`,
      ).toEqual(['start', 'end']);
      expect(mine[1]!.data).toMatchObject({ play: 'launch', of: 7, status: 'ok' });
      expect(mine[1]!.ev.ms).toEqual(expect.any(Number));
    }
    // the services' own events come through: processes started, the play's start/end
    const started = r.lines.filter((l) => l.type === 'process' && l.action === 'started').map((l) => l.id);
    expect(started.sort()).toEqual(['endpoint-1', 'endpoint-2', 'feeder-1', 'keeper-1']);
    const playEvents = r.lines.filter((l) => l.type === 'step' && String(l.step) === 'play launch');
    expect(playEvents.map((l) => l.phase)).toEqual(['start', 'end']);
    expect(
      readState(stateDir)!
        .processes.map((p) => p.id)
        .sort(),
    ).toEqual(started.sort());
  }, 120_000);

  it('launch.yaml a second time changes nothing, and its events say so', async () => {
    const before = await fleetSnapshot();
    const r = await play('launch.yaml', '--json');
    const res = resultOf(r, 'play', PlayResultSchema);
    expect(res.changed).toBe(0);
    const ends = playSteps(r).filter((s) => s.phase === 'end');
    expect(ends).toHaveLength(6);
    for (const e of ends)
      expect(e.data, e.data.name).toMatchObject({ status: 'ok', changed: false, changes: [] });
    expect(r.lines.filter((l) => l.type === 'process')).toEqual([]);
    const after = await fleetSnapshot();
    expect(after.processes).toEqual(before.processes);
    expect(after.beats).toEqual(before.beats);
  }, 120_000);

  it('--dry-run of rolling-deploy, scale-endpoints and drill prints their plans and changes nothing', async () => {
    const before = await fleetSnapshot();
    const rolling = resultOf(
      await play('rolling-deploy.yaml', '--dry-run', '--json'),
      'play',
      PlayResultSchema,
    );
    expect(rolling.steps[1]!.changes).toEqual([
      'batch 1/4: restart feeder-1',
      'batch 2/4: restart endpoint-1',
      'batch 3/4: restart endpoint-2',
      'batch 4/4: restart keeper-1',
    ]);
    const scale = resultOf(
      await play('scale-endpoints.yaml', '--dry-run', '--json'),
      'play',
      PlayResultSchema,
    );
    expect(scale.steps.find((s) => s.kind === 'provision')!.changes).toEqual(['start endpoint-3']);
    expect(scale.steps.find((s) => s.kind === 'shed')!.changes[0]).toMatch(
      /^ask endpoint-\d to shed 3 client/,
    );
    const drill = await play('drill.yaml', '--dry-run');
    expect(drill.code, drill.stderr).toBe(0);
    const ep1 = readState(stateDir)!.processes.find((p) => p.id === 'endpoint-1')!.pid;
    expect(drill.stdout).toContain(`GOD_PIDS=${ep1}`);
    expect(drill.stdout).toMatch(/would stop feeder-1/);
    expect(drill.stdout).toMatch(/dry run: nothing changed/);
    expect(await fleetSnapshot()).toEqual(before);
  }, 120_000);

  it('rolling-deploy.yaml restarts every process batch by batch, health-checked', async () => {
    const before = await fleetSnapshot();
    const res = resultOf(await play('rolling-deploy.yaml', '--json'), 'play', PlayResultSchema);
    expect(res.steps.map((s) => s.status)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
    expect(res.steps[1]!.changes).toHaveLength(4);
    const after = await fleetSnapshot();
    const pidsBefore = new Map(before.processes as Array<[string, number]>);
    for (const [id, pid] of after.processes as Array<[string, number]>)
      expect(pid, id).not.toBe(pidsBefore.get(id));
  }, 120_000);

  it('scale-endpoints.yaml adds an endpoint, publishes the list and sheds clients onto it', async () => {
    const res = resultOf(await play('scale-endpoints.yaml', '--json'), 'play', PlayResultSchema);
    expect(res.ok).toBe(true);
    const moved = res.steps.find((s) => s.name === 'shed clients moved to other endpoints')!;
    expect(moved.detail).toMatch(/load: 12\/12 connected, [1-9]\d* moved/);
    expect(moved.detail).toMatch(/endpoint-3×[1-9]/);
    const list = parseEndpointList(fs.readFileSync(path.join(stateDir, 'archive', 'endpoints.json'), 'utf8'));
    expect(list.endpoints).toHaveLength(3);
  }, 120_000);

  it('client: a kept group passes on only while connected; fresh: true replaces it with new clients', async () => {
    const file = path.join(dir, 'fresh.yaml');
    fs.writeFileSync(
      file,
      `# kept and fresh client groups
name: fresh
steps:
  - assert: { client: { count: 2, keep: g } }
  - name: kept
    assert: { client: { count: 2, keep: g } }
  - name: new ones
    assert: { client: { count: 3, keep: g, fresh: true } }
  - name: the group now
    assert: { clients: { group: g } }
`,
    );
    const res = resultOf(await play(file, '--json'), 'play', PlayResultSchema);
    expect(res.steps.map((s) => s.status)).toEqual(['ok', 'ok', 'ok', 'ok']);
    expect(res.steps[1]!.detail).toBe('group g (kept earlier): 2/2 connected');
    expect(res.steps[2]!.detail).toMatch(/^3 client\(s\) got set_movies from .*; kept as g$/);
    // the group is the 3 new clients, not the 2 old ones
    expect(res.steps[3]!.detail).toMatch(/^g: 3\/3 connected, 0 moved/);
  }, 60_000);

  it('a failing step stops the play, is named, and the exit code is 1; continue_on_error goes on', async () => {
    const file = path.join(dir, 'failing.yaml');
    fs.writeFileSync(
      file,
      `# a playbook that fails at step 3
name: failing
steps:
  - run: { command: 'echo "pids $GOD_PIDS"', role: endpoint }
  - name: an impossible count, ignored
    assert: { healthy: { role: endpoint, count: 99 } }
    continue_on_error: true
  - name: a wait that cannot end
    wait: { healthy: { role: keeper, count: 5 } }
    timeout: 1s
  - down: {}
`,
    );
    const r = await play(file, '--json');
    expect(r.code).toBe(1);
    const res = PlayResultSchema.parse(r.lines.at(-1)!.data);
    expect(res.ok).toBe(false);
    expect(res.failed_step).toMatchObject({ index: 3, name: 'a wait that cannot end' });
    expect(res.failed_step!.error).toMatch(/still not true after 1 s: healthy: keeper/);
    expect(res.steps.map((s) => [s.status, s.ignored ?? false])).toEqual([
      ['ok', false],
      ['failed', true],
      ['failed', false],
      ['skipped', false],
    ]);
    // the run step reported per host, with the endpoints' pids in its environment
    const pids = readState(stateDir)!
      .processes.filter((p) => p.role === 'endpoint')
      .map((p) => p.pid);
    const host = r.lines.find((l) => l.type === 'host' && l.step === 'run' && l.phase === 'end')!;
    expect(host).toMatchObject({ ok: true });
    expect(String(host.detail)).toBe(`exit 0: pids ${pids.join(' ')}`);
    // the down step was skipped: the fleet still runs
    expect(readState(stateDir)?.processes.length).toBe(5);
    const plain = await play(file);
    expect(plain.code).toBe(1);
    expect(plain.stdout).toMatch(/play failing failed at step 3 \(a wait that cannot end\)/);
  }, 120_000);
});
