// The local provider end to end through the real `god` binary: up (background supervisor, private
// redis-server, real endpoint and keeper processes), status joined with live heartbeats (and a stale one),
// crash → restart, scale, restart, endpoints + shed, logs, down with nothing left behind; `god run` too.
import fs from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { readState } from '../../god/core/local/state.ts';
import { EndpointsReportSchema, ShedResultSchema } from '../../god/core/endpoints.ts';
import { LogRecordSchema } from '../../god/core/logs.ts';
import { OperationResultSchema, PlanResultSchema } from '../../god/core/operations.ts';
import { StatusReportSchema } from '../../god/core/status.ts';
import {
  findProcessesUsing,
  makeTempDir,
  pidAlive,
  recentOutput,
  spawnTracked,
  waitFor,
  waitForExit,
  waitForLine,
} from '../harness/index.ts';
import { errorOf, god, GOD_BIN, godIn, resultOf } from './cli-helpers.ts';

const TEST_CATALOG = path.resolve(import.meta.dirname, '../../data/test-catalog.json');

function writeConfig(dir: string, roles: { feeder: number; endpoint: number; keeper: number }) {
  fs.writeFileSync(
    path.join(dir, 'god.config.yaml'),
    `roles:
  feeder:
    count: ${roles.feeder}
    options:
      catalog: ${TEST_CATALOG}
      rate: 5
  endpoint:
    count: ${roles.endpoint}
  keeper:
    count: ${roles.keeper}
local:
  restart:
    backoff_min: 200ms
    backoff_max: 2s
    stable_after: 5s
  stop_timeout: 8s
`,
  );
}

const pidOf = (dir: string, id: string) =>
  readState(path.join(dir, '.god/local'))?.processes.find((p) => p.id === id)?.pid;

describe('local provider through the CLI', () => {
  let dir: string;
  let stateDir: string;
  let statePids: number[] = [];
  /** in-process CLI for the many checks; the binary for up, down and run */
  const run = (...args: string[]) => godIn(args, { cwd: dir });

  beforeAll(() => {
    dir = makeTempDir('god-local');
    stateDir = path.join(dir, '.god/local');
    writeConfig(dir, { feeder: 1, endpoint: 2, keeper: 1 });
  });
  afterAll(async () => {
    await run('down', '--yes'); // a failed test must not leave the fleet running
  });

  it('god up starts the supervisor, Redis and every role, and waits for their heartbeats', async () => {
    const r = await god(['up'], { cwd: dir, env: { GOD_JSON: '1' } }); // --json through its env var
    const data = resultOf(r, 'up', OperationResultSchema);
    expect(data).toMatchObject({ action: 'up', provider: 'local', role: null, healthy: true });
    expect(data.processes.map((p) => p.id).sort()).toEqual([
      'endpoint-1',
      'endpoint-2',
      'feeder-1',
      'keeper-1',
    ]);
    const started = r.lines.filter((l) => l.type === 'process' && l.action === 'started').map((l) => l.id);
    expect(started.sort()).toEqual(['endpoint-1', 'endpoint-2', 'feeder-1', 'keeper-1']);
    const healthy = r.lines
      .filter((l) => l.type === 'host' && l.step === 'health' && l.ok)
      .map((l) => l.host);
    expect(healthy.sort()).toEqual(['endpoint-1', 'endpoint-2', 'feeder-1', 'keeper-1']);
    const s = readState(stateDir)!;
    expect(pidAlive(s.supervisor_pid) && pidAlive(s.redis_pid!)).toBe(true);
    expect(s.processes.every((p) => p.state === 'running' && pidAlive(p.pid!))).toBe(true);
    statePids = [s.supervisor_pid, s.redis_pid!, ...s.processes.map((p) => p.pid!)];
  });

  it('god up again changes nothing', async () => {
    const before = readState(stateDir)!.processes.map((p) => p.pid);
    const data = resultOf(await run('up', '--json'), 'up', OperationResultSchema);
    expect(data.processes).toHaveLength(4);
    expect(readState(stateDir)!.processes.map((p) => p.pid)).toEqual(before);
  });

  it('--dry-run prints the plan of up, down and restart and changes nothing', async () => {
    const before = readState(stateDir)!;
    const pids = before.processes.map((p) => p.pid);
    const scale = resultOf(
      await run('up', 'endpoint', '-n', '3', '--dry-run', '--json'),
      'up',
      PlanResultSchema,
    );
    expect(scale).toMatchObject({ action: 'up', dry_run: true, role: 'endpoint', count: 3 });
    expect(scale.changes).toEqual([
      { action: 'start', resource: 'process', subject: 'endpoint-3', detail: 'a free port' },
    ]);
    const restart = resultOf(
      await run('restart', 'endpoint', '--dry-run', '--json'),
      'restart',
      PlanResultSchema,
    );
    expect(restart.changes.map((c) => `${c.action} ${c.subject}`)).toEqual([
      'restart endpoint-1',
      'restart endpoint-2',
    ]);
    const down = await run('down', '--dry-run');
    expect(down.code).toBe(0);
    expect(down.stdout.trim().split('\n')).toEqual([
      ...['endpoint-1', 'endpoint-2', 'feeder-1', 'keeper-1'].map(
        (id) => `stop process ${id} (pid ${before.processes.find((p) => p.id === id)!.pid})`,
      ),
      `stop redis private redis-server (pid ${before.redis_pid})`,
      `stop supervisor ${stateDir} (pid ${before.supervisor_pid})`,
    ]);
    expect((await run('up', '--dry-run')).stdout.trim()).toBe('nothing to change');
    const after = readState(stateDir)!;
    expect(after.processes.map((p) => p.pid)).toEqual(pids);
    expect(after.processes.every((p) => p.restarts === 0 && pidAlive(p.pid!))).toBe(true);
  });

  it('god status joins expected processes with live heartbeats', async () => {
    const r = await run('status', '--json');
    const st = resultOf(r, 'status', StatusReportSchema);
    expect(st.ok).toBe(true);
    expect(st.summary).toEqual({ expected: 4, up: 4, stale: 0, missing: 0, unexpected: 0, not_ready: 0 });
    expect(st.redis.ok).toBe(true);
    expect(st.machines).toEqual([expect.objectContaining({ provider: 'local', state: 'running' })]);
    for (const p of st.processes) {
      expect(p.pid).toBe(pidOf(dir, p.id));
      expect(p.version).toMatch(/\d/);
      expect(p.rss).toBeGreaterThan(1e6);
      expect(p.heartbeat_age_s).toBeLessThan(5);
    }
    expect(st.processes.find((p) => p.role === 'endpoint')?.gauges).toHaveProperty('clients');
    expect(st.processes.find((p) => p.role === 'feeder')?.gauges).toHaveProperty('tweets_per_s');
    const plain = await run('status');
    expect(plain.stdout).toMatch(/endpoint-1 .* up/);
    expect(plain.stdout).toContain('4/4 up');
  });

  it('a process that stops beating shows stale, and `status --check` fails', async () => {
    const pid = pidOf(dir, 'endpoint-2')!;
    process.kill(pid, 'SIGSTOP');
    try {
      const url = readState(stateDir)!.redis_url;
      const redis = new Redis(url);
      try {
        // wait until its last beat is older than the stale threshold (2.5 beats)
        await waitFor(
          async () => {
            const hb = await redis.get('fg:proc:endpoint:endpoint-2');
            return !hb || Date.now() - Date.parse(JSON.parse(hb).at) > 5500;
          },
          20_000,
          'endpoint-2 heartbeat to age',
          { intervalMs: 250 },
        );
      } finally {
        redis.disconnect();
      }
      const r = await run('status', '--json', '--check');
      expect(r.code).toBe(3);
      const st = StatusReportSchema.parse(r.lines.at(-1)!.data);
      expect(st.ok).toBe(false);
      expect(st.processes.find((p) => p.id === 'endpoint-2')?.state).toBe('stale');
      expect(st.summary.stale).toBe(1);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
  });

  it('restarts a crashed role process with a new pid', async () => {
    const old = pidOf(dir, 'endpoint-1')!;
    process.kill(old, 'SIGKILL');
    await waitFor(
      () => {
        const now = pidOf(dir, 'endpoint-1');
        return now !== undefined && now !== old && pidAlive(now);
      },
      20_000,
      'endpoint-1 restarted',
    );
    const log = fs.readFileSync(path.join(stateDir, 'supervisor.log'), 'utf8');
    expect(log).toMatch(
      /"action":"exited","role":"endpoint","id":"endpoint-1".*"detail":"killed by SIGKILL"/,
    );
    expect(log).toMatch(/"action":"restarting","role":"endpoint","id":"endpoint-1"/);
    const s = readState(stateDir)!;
    expect(s.processes.find((p) => p.id === 'endpoint-1')?.restarts).toBe(1);
  });

  it('god up ROLE -n N converges a role; god restart ROLE replaces its processes', async () => {
    const ep2 = pidOf(dir, 'endpoint-2')!;
    const down = resultOf(await run('up', 'endpoint', '-n', '1', '--json'), 'up', OperationResultSchema);
    expect(down.processes.map((p) => p.id).sort()).toEqual(['endpoint-1', 'feeder-1', 'keeper-1']);
    expect(pidAlive(ep2)).toBe(false);

    const keeper = pidOf(dir, 'keeper-1')!;
    const r = resultOf(await run('restart', 'keeper', '--json'), 'restart', OperationResultSchema);
    expect(r).toMatchObject({ action: 'restart', role: 'keeper', healthy: true });
    expect(pidAlive(keeper)).toBe(false);
    expect(pidOf(dir, 'keeper-1')).not.toBe(keeper);
  });

  it('god endpoints lists the registry; shed sends a control message the endpoint logs', async () => {
    const list = resultOf(await run('endpoints', '--json'), 'endpoints', EndpointsReportSchema);
    const ep = list.endpoints.find((e) => e.id === 'endpoint-1');
    expect(ep).toMatchObject({ host: '127.0.0.1', tls: false, healthy: true });
    const shed = resultOf(
      await run('endpoints', 'shed', 'endpoint-1', '2', '--json'),
      'endpoints shed',
      ShedResultSchema,
    );
    expect(shed).toEqual({ endpoint: 'endpoint-1', clients: 2, receivers: 1 });
    await waitFor(
      async () => {
        const logs = await run('logs', '--id', 'endpoint-1', '--grep', 'control message', '--json');
        const recs = logs.lines.filter((l) => l.type === 'log').map((l) => LogRecordSchema.parse(l));
        return recs.some((x) => JSON.stringify(x.data).includes('"shed"'));
      },
      10_000,
      'the shed control message in the logs',
      { intervalMs: 300 },
    );
    const unknown = await run('endpoints', 'shed', 'endpoint-9', '1', '--json');
    expect(unknown.code).toBe(1);
    expect(errorOf(unknown)).toMatchObject({
      code: 'GOD_TARGET',
      message: 'no endpoint endpoint-9 in the registry',
    });
  });

  it('god down stops everything and leaves no process behind', async () => {
    const r = await god(['down', '--yes', '--json'], { cwd: dir });
    const data = resultOf(r, 'down', OperationResultSchema);
    expect(data).toMatchObject({ action: 'down', processes: [] });
    const all = [...statePids, ...(readState(stateDir)?.processes.map((p) => p.pid!) ?? [])];
    for (const pid of all) expect(pidAlive(pid), `pid ${pid}`).toBe(false);
    expect(fs.existsSync(path.join(stateDir, 'state.json'))).toBe(false);
    expect(findProcessesUsing(dir)).toEqual([]);
    // and again: nothing to do, still fine
    expect((await run('down', '--yes', '--json')).code).toBe(0);
    const st = resultOf(await run('status', '--json'), 'status', StatusReportSchema);
    expect(st.machines[0]?.state).toBe('stopped');
    expect(st.processes).toEqual([]);
  });
});

describe('god run (foreground) and errors', () => {
  it('runs the fleet until SIGINT; other invocations see it; nothing is left', async () => {
    const dir = makeTempDir('god-run');
    writeConfig(dir, { feeder: 1, endpoint: 0, keeper: 0 });
    const child = spawnTracked(process.execPath, [GOD_BIN, 'run', '--json'], {
      cwd: dir,
      env: { ...process.env, NO_COLOR: '1' },
      name: 'god-run',
    });
    await waitForLine(child, /local fleet running/, 30_000);
    await waitFor(
      async () => resultOf(await godIn(['status', '--json'], { cwd: dir }), 'status', StatusReportSchema).ok,
      20_000,
      'the feeder to beat',
      { intervalMs: 300 },
    );
    const pids = readState(path.join(dir, '.god/local'))!.processes.map((p) => p.pid!);
    child.kill('SIGINT');
    expect(await waitForExit(child, 20_000)).toBe(true);
    expect(child.exitCode).toBe(0);
    await waitForLine(child, /"command":"run"/, 1000);
    const out = recentOutput(child, 1000).filter((l) => l.startsWith('{'));
    const lines = out.map((l) => JSON.parse(l) as Record<string, unknown>);
    const done = resultOf(
      { code: 0, stdout: out.join('\n'), stderr: '', lines },
      'run',
      z.object({ stopped: z.literal(true), state_dir: z.string() }),
    );
    expect(done.state_dir).toBe(path.join(dir, '.god/local'));
    expect(lines.filter((l) => l.type === 'process' && l.action === 'stopped').map((l) => l.id)).toEqual([
      'feeder-1',
    ]);
    for (const pid of pids) expect(pidAlive(pid)).toBe(false);
    expect(findProcessesUsing(dir)).toEqual([]);
  });

  it('two concurrent `god up` share one supervisor; killed with SIGKILL, the next command cleans up after it', async () => {
    const dir = makeTempDir('god-kill9');
    writeConfig(dir, { feeder: 0, endpoint: 1, keeper: 0 });
    // two operators at once: one supervisor serves both
    const ups = await Promise.all([1, 2].map(() => god(['up', '--json', '--no-wait'], { cwd: dir })));
    for (const up of ups) resultOf(up, 'up', OperationResultSchema);
    // the supervisor that lost the lock may still be loading; it exits by itself
    const supervisors = () =>
      findProcessesUsing(dir).filter((pid) => {
        try {
          return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('supervise');
        } catch {
          return false;
        }
      });
    await waitFor(() => supervisors().length === 1, 20_000, 'a single supervisor');
    const s = readState(path.join(dir, '.god/local'))!;
    expect(s.processes.map((p) => p.id)).toEqual(['endpoint-1']);
    const pids = [s.redis_pid!, ...s.processes.map((p) => p.pid!)];
    process.kill(s.supervisor_pid, 'SIGKILL');
    await waitFor(() => !pidAlive(s.supervisor_pid), 5000, 'the supervisor to die');
    expect(pids.every(pidAlive)).toBe(true); // orphans, for now
    const st = await godIn(['status', '--json'], { cwd: dir });
    expect(st.lines.some((l) => l.type === 'warn' && /leftover process/.test(String(l.message)))).toBe(true);
    expect(resultOf(st, 'status', StatusReportSchema).machines[0]?.state).toBe('stopped');
    await waitFor(() => !pids.some(pidAlive), 10_000, 'the orphans to be stopped');
    expect(fs.existsSync(path.join(dir, '.god/local/state.json'))).toBe(false);
    expect(findProcessesUsing(dir)).toEqual([]);
  });

  it('a role that cannot start is a clear error', async () => {
    const dir = makeTempDir('god-bad');
    fs.writeFileSync(path.join(dir, 'god.config.yaml'), 'local:\n  entry:\n    feeder: ./nope.mjs\n');
    const r = await godIn(['up', 'feeder', '--json'], { cwd: dir });
    expect(r.code).toBe(1);
    // checked before anything starts: no supervisor, no Redis
    expect(fs.existsSync(path.join(dir, '.god/local/state.json'))).toBe(false);
    expect(findProcessesUsing(dir)).toEqual([]);
    const e = errorOf(r);
    expect(e.code).toBe('GOD_ROLE');
    expect(e.message).toMatch(/local.entry.feeder is .*nope.mjs, which does not exist/);
    expect(e.hint).toMatch(/Fix the path/);
  });

  it('config errors exit 2 with the path, line and hint', async () => {
    const dir = makeTempDir('god-badcfg');
    fs.writeFileSync(path.join(dir, 'fleet.yaml'), 'roles:\n  endpoint:\n    count: many\n');
    const r = await god(['status', '--json'], { cwd: dir, env: { GOD_CONFIG: 'fleet.yaml' } });
    expect(r.code).toBe(2);
    const e = errorOf(r);
    expect(e.code).toBe('GOD_CONFIG');
    expect(e.message).toContain('fleet.yaml:3:12 roles.endpoint.count');
    expect(e.message).toMatch(/hint: A whole number/);
    const usage = await godIn(['up', 'web', '--json'], { cwd: dir });
    expect(usage.code).toBe(2);
    expect(errorOf(usage)).toMatchObject({ code: 'GOD_USAGE', message: '"web" is not a role' });
    const unknown = await godIn(['frobnicate'], { cwd: dir });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command 'frobnicate'[\s\S]*what to do: Run `god --help`/);
    z.string().parse(e.hint);
  });
});
