// Providers plan: what up/down/restart/deploy would change, for the local provider (from state.json or an
// in-process fleet's snapshot) and the ssh provider (from its inventory and each host's state), without
// changing anything. No fleet, no sshd: states are written or built here (the sshd read is in plan-ssh.test.ts).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../god/core/config/load.ts';
import { onHosts, selectOnHosts } from '../../god/core/deploy/remote-fleet.ts';
import { nullSink } from '../../god/core/events.ts';
import { type LocalPlanInput, planLocal } from '../../god/core/local/plan.ts';
import { hostLines } from '../../god/core/playbook/kinds/provider-plan.ts';
import { type LocalProcess, type LocalState, readState, writeState } from '../../god/core/local/state.ts';
import type { LocalFleet } from '../../god/core/local/fleet.ts';
import { fleetProvider, LocalProvider } from '../../god/core/providers/local.ts';
import { type HostState, planDeploy, planProcesses } from '../../god/core/providers/remote-plan.ts';
import { SshProvider } from '../../god/core/providers/ssh.ts';
import { describeChange, type PlanOp } from '../../god/core/providers/types.ts';
import { PlanResultSchema } from '../../god/core/operations.ts';
import type { SshPool } from '../../god/core/ssh/pool.ts';
import { killTracked, makeTempDir, spawnTracked } from '../harness/index.ts';
import { godIn, resultOf } from './cli-helpers.ts';

const config = (yaml = '') => parseConfigText(yaml, 'god.config.yaml');

function proc(id: string, pid?: number): LocalProcess {
  return {
    id,
    role: id.split('-')[0] as LocalProcess['role'],
    pid,
    state: pid ? 'running' : 'backoff',
    restarts: 0,
  };
}

function state(processes: LocalProcess[], o: Partial<LocalState> = {}): LocalState {
  return {
    version: 1,
    supervisor_pid: process.pid, // alive: this test
    socket: '/nonexistent/supervisor.sock',
    started_at: new Date().toISOString(),
    redis_url: 'redis://127.0.0.1:1',
    redis_pid: 4242,
    prefix: 'fg:',
    host: 'here',
    desired: { feeder: 0, endpoint: 0, keeper: 0 },
    processes,
    ...o,
  };
}

const input = (o: Partial<LocalPlanInput>): LocalPlanInput => ({
  config: config(),
  baseDir: process.cwd(),
  dist: false,
  stateDir: '/state',
  state: undefined,
  runner: 'daemon',
  ...o,
});

const lines = (op: PlanOp, o: Partial<LocalPlanInput>) => planLocal(op, input(o)).map(describeChange);

/** a pid that no process has any more */
function deadPid(): number {
  const r = spawnSync('true');
  return r.pid!;
}

describe('local plan', () => {
  it('up with nothing running starts the supervisor, the private Redis and the processes (ports from the config)', () => {
    const cfg = config('roles:\n  endpoint:\n    options:\n      port: 7100\n');
    expect(lines({ op: 'up', role: 'endpoint', count: 2 }, { config: cfg })).toEqual([
      'start supervisor /state (in the background (`god supervise`))',
      'start redis private redis-server (redis-server, files in the state dir)',
      'start process endpoint-1 (port 7100)',
      'start process endpoint-2 (port 7101)',
    ]);
    // a configured Redis: no private one; up of 0 still starts the supervisor, as LocalProvider.up does
    const withRedis = config('redis:\n  url: redis://10.0.0.1:6379\n');
    expect(lines({ op: 'up', role: 'keeper', count: 0 }, { config: withRedis })).toEqual([
      'start supervisor /state (in the background (`god supervise`))',
    ]);
  });

  it('up on a running fleet adds the lowest free numbers and removes the highest', () => {
    const s = state([proc('endpoint-1', 11), proc('endpoint-3', 13), proc('keeper-1', 21)]);
    expect(lines({ op: 'up', role: 'endpoint', count: 3 }, { state: s })).toEqual([
      'start process endpoint-2 (a free port)',
    ]);
    expect(lines({ op: 'up', role: 'endpoint', count: 1 }, { state: s })).toEqual([
      'stop process endpoint-3 (pid 13)',
    ]);
    expect(lines({ op: 'up', role: 'endpoint', count: 2 }, { state: s })).toEqual([]);
    expect(lines({ op: 'up', role: 'feeder', count: 1 }, { state: s })).toEqual(['start process feeder-1']);
  });

  it('down of everything: endpoints and feeders, the keeper last, then the private Redis and the supervisor', () => {
    const s = state([proc('feeder-1', 1), proc('endpoint-1', 2), proc('endpoint-2'), proc('keeper-1', 4)]);
    expect(lines({ op: 'down' }, { state: s })).toEqual([
      'stop process endpoint-1 (pid 2)',
      'stop process endpoint-2 (backoff)',
      'stop process feeder-1 (pid 1)',
      'stop process keeper-1 (pid 4)',
      'stop redis private redis-server (pid 4242)',
      `stop supervisor /state (pid ${process.pid})`,
    ]);
    // a part of the fleet: those processes only
    expect(lines({ op: 'down', target: { role: 'endpoint' } }, { state: s })).toEqual([
      'stop process endpoint-1 (pid 2)',
      'stop process endpoint-2 (backoff)',
    ]);
    expect(lines({ op: 'down', target: { ids: ['keeper-1'] } }, { state: s })).toEqual([
      'stop process keeper-1 (pid 4)',
    ]);
    // an in-process fleet (the demo) keeps its Redis: fleet.down() stops role processes only
    expect(lines({ op: 'down' }, { state: s, runner: 'in-process' })).toEqual([
      'stop process endpoint-1 (pid 2)',
      'stop process endpoint-2 (backoff)',
      'stop process feeder-1 (pid 1)',
      'stop process keeper-1 (pid 4)',
    ]);
  });

  it('restart and deploy restart the selected processes in fleet order', () => {
    const s = state([proc('feeder-1', 1), proc('endpoint-1', 2), proc('endpoint-2', 3)]);
    expect(lines({ op: 'restart' }, { state: s })).toEqual([
      'restart process feeder-1 (pid 1)',
      'restart process endpoint-1 (pid 2)',
      'restart process endpoint-2 (pid 3)',
    ]);
    expect(lines({ op: 'deploy', target: { role: 'endpoint' } }, { state: s })).toEqual([
      'restart process endpoint-1 (pid 2, runs the code on disk now)',
      'restart process endpoint-2 (pid 3, runs the code on disk now)',
    ]);
  });

  it('fails as the operation would, before anything changes', () => {
    const s = state([proc('endpoint-1', 2)]);
    const err = (op: PlanOp, o: Partial<LocalPlanInput>) => {
      try {
        planLocal(op, input(o));
      } catch (e) {
        return (e as { code?: string }).code;
      }
      return 'no error';
    };
    expect(err({ op: 'down', target: { ids: ['endpoint-9'] } }, { state: s })).toBe('GOD_TARGET');
    expect(err({ op: 'restart', target: { ids: ['endpoint-9'] } }, { state: s })).toBe('GOD_TARGET');
    expect(err({ op: 'restart' }, {})).toBe('GOD_LOCAL_DOWN');
    expect(err({ op: 'down', target: { ids: ['endpoint-1'] } }, {})).toBe('GOD_LOCAL_DOWN');
    expect(planLocal({ op: 'down' }, input({}))).toEqual([]); // down of nothing: nothing to do
    // the demo runs this fleet in-process (no socket): God cannot drive it from another program
    const demo = state([proc('endpoint-1', 2)], { socket: undefined });
    expect(err({ op: 'up', role: 'endpoint', count: 2 }, { state: demo })).toBe('GOD_LOCAL_RUNNING');
    expect(err({ op: 'down' }, { state: demo })).toBe('GOD_LOCAL_RUNNING');
    // a role whose program is missing
    const missing = config('local:\n  entry:\n    endpoint: /nonexistent/endpoint.mjs\n');
    expect(err({ op: 'up', role: 'endpoint', count: 1 }, { config: missing })).toBe('GOD_ROLE');
  });

  it("a dead supervisor's leftover processes are stopped first, then the fleet starts afresh", async () => {
    const child = spawnTracked('sleep', ['600'], { name: 'leftover' });
    try {
      const s = state([proc('endpoint-1', child.pid), proc('endpoint-2', deadPid())], {
        supervisor_pid: deadPid(),
        redis_pid: deadPid(),
      });
      expect(lines({ op: 'up', role: 'endpoint', count: 1 }, { state: s })).toEqual([
        `stop process endpoint-1 (pid ${child.pid}, left by a dead supervisor)`,
        'start supervisor /state (in the background (`god supervise`))',
        'start redis private redis-server (redis-server, files in the state dir)',
        'start process endpoint-1 (a free port)',
      ]);
    } finally {
      await killTracked(child);
    }
  });

  it('LocalProvider.plan reads state.json and changes nothing (no clean-up, no supervisor)', async () => {
    const dir = makeTempDir('plan-local');
    const stateDir = path.join(dir, 'state');
    // a stale state file: a real `god down` would clean it up; its plan must leave it
    writeState(
      stateDir,
      state([proc('keeper-1', deadPid())], { supervisor_pid: deadPid(), redis_pid: undefined }),
    );
    const before = fs.readFileSync(path.join(stateDir, 'state.json'), 'utf8');
    const p = new LocalProvider({
      config: config(),
      events: nullSink,
      baseDir: dir,
      env: {},
      local: { stateDir, cwd: dir },
    });
    expect(await p.plan({ op: 'down' })).toEqual([]); // a dead supervisor and no live leftovers
    const up = (await p.plan({ op: 'up', role: 'keeper', count: 1 })).map(describeChange);
    expect(up).toEqual([
      `start supervisor ${stateDir} (in the background (\`god supervise\`))`,
      'start redis private redis-server (redis-server, files in the state dir)',
      'start process keeper-1',
    ]);
    expect(fs.readFileSync(path.join(stateDir, 'state.json'), 'utf8')).toBe(before);
    expect(fs.readdirSync(stateDir).sort()).toEqual(['state.json']);
    expect(readState(stateDir)?.processes.map((x) => x.id)).toEqual(['keeper-1']);
    // a live supervisor (this test's pid) is read the same way
    writeState(stateDir, state([proc('keeper-1', 77)]));
    expect((await p.plan({ op: 'restart' })).map(describeChange)).toEqual([
      'restart process keeper-1 (pid 77)',
    ]);
  });
});

describe('fleetProvider (an in-process fleet) plans from its snapshot', () => {
  it('plans with the config it runs, and a down of everything leaves its Redis', async () => {
    const snap = state([proc('endpoint-1', 5), proc('keeper-1', 6)], { socket: undefined });
    // only what plan reads of a LocalFleet
    const fleet = { stateDir: '/demo', snapshot: () => snap } as unknown as LocalFleet;
    const p = fleetProvider(fleet, { config: config() });
    expect((await p.plan({ op: 'down' })).map(describeChange)).toEqual([
      'stop process endpoint-1 (pid 5)',
      'stop process keeper-1 (pid 6)',
    ]);
    expect((await p.plan({ op: 'up', role: 'endpoint', count: 2 })).map(describeChange)).toEqual([
      'start process endpoint-2 (a free port)',
    ]);
  });
});

const SSH_CONFIG = `provider: ssh
redis:
  url: redis://10.0.0.9:6379
ssh:
  base_dir: /srv/fg
  hosts:
    - { name: a, address: 10.0.0.1, roles: [endpoint, keeper] }
    - { name: b, address: 10.0.0.2, roles: [endpoint, feeder] }
    - { name: c, address: 10.0.0.3, roles: [endpoint] }
`;

describe('ssh plan', () => {
  const provider = () => new SshProvider(config(SSH_CONFIG), nullSink, '/cfg', {});
  const up = (
    alive: string[],
    o: { current?: string | null; specs?: Record<string, string> } = {},
  ): HostState => ({
    ok: true,
    alive: new Set(alive),
    current: o.current ?? null,
    specs: new Map(Object.entries(o.specs ?? {}).map(([id, role]) => [id, role as 'endpoint'])),
  });

  it('stop lists only the processes that run; an unreadable host is listed as it would be tried', async () => {
    const hosts = await provider().deployHosts();
    const states = new Map<string, HostState>([
      ['a', up(['endpoint-a'])],
      ['b', up(['feeder-b'])],
      ['c', { ok: false, error: 'connect ECONNREFUSED 10.0.0.3:22' }],
    ]);
    expect(planProcesses('stop', hosts, states).map(describeChange)).toEqual([
      'stop process endpoint-a (on a)',
      'stop process feeder-b (on b)',
      'stop process endpoint-c (on c; state unknown (connect ECONNREFUSED 10.0.0.3:22): listed as it would be tried)',
    ]);
    // start skips what runs; restart restarts each, saying which were not running
    expect(planProcesses('start', hosts, states, { role: 'endpoint' }).map((c) => c.subject)).toEqual([
      'endpoint-b',
      'endpoint-c',
    ]);
    expect(
      planProcesses('restart', hosts, states, { ids: ['endpoint-a', 'endpoint-b'] }).map(describeChange),
    ).toEqual([
      'restart process endpoint-a (on a)',
      'restart process endpoint-b (on b; not running now: it starts)',
    ]);
  });

  it('deploy uploads the release to each selected host, restarts its processes and stops ones no longer listed', async () => {
    const hosts = await provider().deployHosts();
    const states = new Map<string, HostState>([
      ['a', up(['endpoint-a'], { current: 'r1', specs: { 'endpoint-a': 'endpoint', 'feeder-a': 'feeder' } })],
      ['b', up([], { current: null, specs: { 'keeper-b': 'keeper' } })],
    ]);
    expect(planDeploy(hosts, states, { role: 'endpoint' }).map(describeChange).slice(0, 5)).toEqual([
      'upload release a (fg-agent.mjs, fg-supervisor.mjs, manifest.json, endpoint.mjs into /srv/fg/releases (files it has are reused); now at r1)',
      'restart process endpoint-a (on a, with the new release)',
      'upload release b (fg-agent.mjs, fg-supervisor.mjs, manifest.json, endpoint.mjs into /srv/fg/releases (files it has are reused); now at no release)',
      'restart process endpoint-b (on b, with the new release)',
      'upload release c (fg-agent.mjs, fg-supervisor.mjs, manifest.json, endpoint.mjs into /srv/fg/releases (files it has are reused); state unknown (not read): listed as it would be tried)',
    ]);
    // a whole-fleet deploy also stops what the inventory no longer lists (feeder-a on a, keeper-b on b)
    const all = planDeploy(hosts, states).filter((c) => c.action === 'stop');
    expect(all.map((c) => c.subject)).toEqual(['feeder-a', 'keeper-b']);
  });

  it('a deploy of a known version says from → to, skips a host already there, and reads per host in a playbook', async () => {
    const hosts = await provider().deployHosts();
    const states = new Map<string, HostState>([
      ['a', up(['endpoint-a', 'keeper-a'], { current: 'r2' })],
      ['b', up(['endpoint-b'], { current: 'r1', specs: { 'keeper-b': 'keeper' } })],
      ['c', { ok: false, error: 'timed out' }],
    ]);
    const changes = planDeploy(hosts, states, undefined, 'r2');
    expect(changes.filter((c) => c.host === 'a')).toEqual([]); // at r2, everything runs
    expect(hostLines(changes)).toEqual([
      'b: r1 → r2; fg-agent.mjs, fg-supervisor.mjs, manifest.json, endpoint.mjs, feeder.mjs into /srv/fg/releases (files it has are reused); restart endpoint-b, feeder-b; stop keeper-b',
      'c: ? → r2; fg-agent.mjs, fg-supervisor.mjs, manifest.json, endpoint.mjs into /srv/fg/releases (files it has are reused); state unknown (timed out): listed as it would be tried; restart endpoint-c',
    ]);
    // a host at r2 whose process does not run still restarts it
    states.set('a', up(['endpoint-a'], { current: 'r2' }));
    expect(planDeploy(hosts, states, { role: 'keeper' }, 'r2').map(describeChange)).toEqual([
      'upload release a (r2 → r2; fg-agent.mjs, fg-supervisor.mjs, manifest.json, keeper.mjs into /srv/fg/releases (files it has are reused))',
      'restart process keeper-a (on a, with the new release)',
    ]);
  });

  it('fails as the operation would, before any host is reached', async () => {
    const p = provider();
    // 10.0.0.x is never connected to: both errors come first
    await expect(p.plan({ op: 'up', role: 'endpoint', count: 4 })).rejects.toMatchObject({
      code: 'GOD_CAPACITY',
    });
    await expect(p.plan({ op: 'down', target: { ids: ['endpoint-z'] } })).rejects.toMatchObject({
      code: 'GOD_USAGE',
    });
    await p.close();
  });

  it('an op on the hosts and its plan select the same way: the hosts with a picked process, unknown ids first', async () => {
    const hosts = await provider().deployHosts();
    const picked = (t?: { role?: 'endpoint' | 'feeder' | 'keeper'; ids?: string[] }) =>
      selectOnHosts(hosts, t).map(({ host, procs }) => `${host.name}: ${procs.map((x) => x.id).join(', ')}`);
    expect(picked()).toEqual(['a: endpoint-a, keeper-a', 'b: endpoint-b, feeder-b', 'c: endpoint-c']);
    expect(picked({ role: 'feeder' })).toEqual(['b: feeder-b']);
    expect(picked({ ids: ['endpoint-c', 'feeder-b'] })).toEqual(['b: feeder-b', 'c: endpoint-c']);
    expect(picked({ role: 'endpoint', ids: ['endpoint-c'] })).toEqual(['c: endpoint-c']);
    const unknown = { code: 'GOD_USAGE', message: 'no process feeder-b, endpoint-z in the fleet' };
    expect(() => picked({ role: 'endpoint', ids: ['feeder-b', 'endpoint-z'] })).toThrow(
      expect.objectContaining(unknown),
    );
    // the op fails with that error before any host is reached (the pool is never asked for a connection)
    let reached = 0;
    const pool = { get: () => reached++ } as unknown as SshPool;
    const run = () => reached++ as unknown as Promise<undefined>;
    await expect(
      onHosts(
        hosts,
        pool,
        { step: 'stop', target: { role: 'endpoint', ids: ['feeder-b', 'endpoint-z'] } },
        run,
      ),
    ).rejects.toMatchObject(unknown);
    expect(reached).toBe(0);
  });
});

describe('god up|down|restart --dry-run with nothing running', () => {
  it('prints what `up` would start and leaves no state, supervisor or Redis behind', async () => {
    const dir = makeTempDir('plan-cli');
    fs.writeFileSync(path.join(dir, 'god.config.yaml'), 'roles:\n  endpoint:\n    count: 2\n');
    const r = await godIn(['up', 'endpoint', '--dry-run', '--json'], { cwd: dir });
    const plan = resultOf(r, 'up', PlanResultSchema);
    expect(plan).toMatchObject({ provider: 'local', dry_run: true, role: 'endpoint', count: 2 });
    expect(plan.changes.map((c) => `${c.action} ${c.resource} ${c.subject}`)).toEqual([
      `start supervisor ${path.join(dir, '.god', 'local')}`,
      'start redis private redis-server',
      'start process endpoint-1',
      'start process endpoint-2',
    ]);
    const plain = await godIn(['down', '--dry-run'], { cwd: dir });
    expect([plain.code, plain.stdout.trim()]).toEqual([0, 'nothing to change']);
    const restart = await godIn(['restart', '--dry-run'], { cwd: dir });
    expect(restart.code).not.toBe(0);
    expect(restart.stderr).toContain('the local fleet is not running');
    expect(fs.readdirSync(dir)).toEqual(['god.config.yaml']);
  });
});
