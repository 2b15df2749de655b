// Secrets of the local fleet, probed as a local attacker would: the private Redis refuses a client without
// the password (another user, real redis-cli), the password is in no argv, no output and no file others can
// read; role processes get only the environment they need; the control socket of a deep state dir sits in a
// private folder. Real `god` binary, real redis-server, real role processes.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readState } from '../../god/core/local/state.ts';
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
import { GOD_BIN, god, godIn, resultOf } from './cli-helpers.ts';

const TEST_CATALOG = path.resolve(import.meta.dirname, '../../data/test-catalog.json');
const PLANTED = {
  AWS_ACCESS_KEY_ID: 'AKIAPLANTEDPLANTED12',
  AWS_SECRET_ACCESS_KEY: 'planted-aws-secret-do-not-leak',
  SSH_AUTH_SOCK: '/tmp/planted-ssh-agent.sock',
  GITHUB_TOKEN: 'planted-github-token',
  NODE_OPTIONS: '--max-old-space-size=1024',
  LC_ALL: 'C.UTF-8',
};

/** Run a command as the unprivileged user `nobody` (we are root in CI). */
function asNobody(cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(
      'setpriv',
      ['--reuid=nobody', '--regid=nogroup', '--clear-groups', '--', cmd, ...args],
      { timeout: 15_000, cwd: '/' },
      (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out: stdout + stderr }),
    );
  });
}

const modeOf = (p: string) => fs.statSync(p).mode & 0o777;
const environOf = (pid: number) =>
  Object.fromEntries(
    fs
      .readFileSync(`/proc/${pid}/environ`, 'utf8')
      .split('\0')
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
const isRoot = process.getuid?.() === 0;

describe('local fleet secrets (god run, deep state dir)', () => {
  let dir: string;
  let stateDir: string;
  let child: ReturnType<typeof spawnTracked>;
  let password: string;
  let port: number;

  beforeAll(async () => {
    dir = makeTempDir('god-secrets');
    // deep enough that <state>/supervisor.sock exceeds the unix socket path limit
    stateDir = path.join(dir, 'a-rather-long-folder-name-for-state'.repeat(3), 'local');
    fs.writeFileSync(
      path.join(dir, 'god.config.yaml'),
      `roles:
  feeder:
    count: 1
    options:
      catalog: ${TEST_CATALOG}
      rate: 5
  endpoint:
    count: 1
  keeper:
    count: 1
`,
    );
    child = spawnTracked(process.execPath, [GOD_BIN, 'run', '--json', '--state-dir', stateDir], {
      cwd: dir,
      env: { ...process.env, ...PLANTED, NO_COLOR: '1' },
      name: 'god-run-secrets',
    });
    await waitForLine(child, /local fleet running/, 60_000);
    await waitFor(
      async () =>
        resultOf(
          await godIn(['status', '--json', '--state-dir', stateDir], { cwd: dir }),
          'status',
          StatusReportSchema,
        ).ok,
      60_000,
      'every role to beat',
      { intervalMs: 500 },
    );
    const s = readState(stateDir)!;
    const u = new URL(s.redis_url);
    password = decodeURIComponent(u.password);
    port = Number(u.port);
  }, 120_000);

  afterAll(async () => {
    child?.kill('SIGINT');
    if (child) await waitForExit(child, 30_000);
  });

  it('the private Redis has a password that is on no command line', () => {
    expect(password.length).toBeGreaterThanOrEqual(32);
    const s = readState(stateDir)!;
    const pids = [s.redis_pid!, s.supervisor_pid, ...s.processes.map((p) => p.pid!)];
    expect(pids).toHaveLength(5);
    for (const pid of pids) expect(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8')).not.toContain(password);
  });

  // another user: we spawn as nobody, which takes root (CI runs as root)
  it.skipIf(!isRoot)(
    'another local user without the password can neither read keys nor publish',
    async () => {
      // the fleet has written keys (catalog, heartbeats): with the password they are there
      const owner = new Redis(readState(stateDir)!.redis_url, { lazyConnect: true, maxRetriesPerRequest: 0 });
      try {
        await owner.connect();
        expect((await owner.keys('*')).length).toBeGreaterThan(0);
      } finally {
        owner.disconnect();
      }
      const base = ['-h', '127.0.0.1', '-p', String(port)];
      const keys = await asNobody('redis-cli', [...base, 'KEYS', '*']);
      expect(keys.out).toMatch(/NOAUTH/);
      expect(keys.out).not.toMatch(/fg:|heartbeat|catalog/);
      const pub = await asNobody('redis-cli', [...base, 'PUBLISH', 'fg:control:endpoint', '{"type":"shed"}']);
      expect(pub.out).toMatch(/NOAUTH/);
      const guess = await asNobody('redis-cli', [...base, '--no-auth-warning', '-a', 'guess', 'PING']);
      expect(guess.out).toMatch(/WRONGPASS|invalid/i);
    },
  );

  it('`god run --json` never prints the password; its URL is redacted', () => {
    const lines = recentOutput(child, 500);
    const running = lines.find((l) => l.includes('local fleet running'))!;
    expect(running).toContain('redis://:***@127.0.0.1:');
    expect(JSON.parse(running).data.redis_url).toBe(`redis://:***@127.0.0.1:${port}`);
    for (const l of lines) expect(l).not.toContain(password);
  });

  it('everything that holds the password is 0600 in 0700 folders', () => {
    expect(fs.readFileSync(path.join(stateDir, 'state.json'), 'utf8')).toContain(password);
    for (const d of [stateDir, path.join(stateDir, 'logs'), path.join(stateDir, 'redis')])
      expect([d, modeOf(d).toString(8)]).toEqual([d, '700']);
    const files = [
      path.join(stateDir, 'state.json'),
      path.join(stateDir, 'redis', 'redis.conf'),
      ...fs.readdirSync(path.join(stateDir, 'logs')).map((f) => path.join(stateDir, 'logs', f)),
    ];
    expect(files.length).toBeGreaterThanOrEqual(5);
    for (const f of files) expect([f, modeOf(f).toString(8)]).toEqual([f, '600']);
    for (const f of fs.readdirSync(path.join(stateDir, 'logs')))
      expect(fs.readFileSync(path.join(stateDir, 'logs', f), 'utf8')).not.toContain(password);
  });

  it('each role process gets only the environment it needs', () => {
    const s = readState(stateDir)!;
    const byRole = Object.fromEntries(s.processes.map((p) => [p.role, environOf(p.pid!)]));
    expect(Object.keys(byRole).sort()).toEqual(['endpoint', 'feeder', 'keeper']);
    for (const [role, env] of Object.entries(byRole)) {
      expect([role, env.FG_REDIS_URL]).toEqual([role, s.redis_url]);
      expect([role, env.PATH]).toEqual([role, process.env.PATH]);
      expect([role, env.LC_ALL]).toEqual([role, 'C.UTF-8']);
      for (const name of ['SSH_AUTH_SOCK', 'GITHUB_TOKEN', 'NODE_OPTIONS'])
        expect([role, name, env[name]]).toEqual([role, name, undefined]);
    }
    // AWS only where it is used: the keeper (S3 archive, SNS/SES alerts)
    expect(byRole.keeper!.AWS_SECRET_ACCESS_KEY).toBe(PLANTED.AWS_SECRET_ACCESS_KEY);
    expect(byRole.endpoint!.AWS_SECRET_ACCESS_KEY).toBeUndefined();
    expect(byRole.feeder!.AWS_ACCESS_KEY_ID).toBeUndefined();
    // no other role's options
    expect(Object.keys(byRole.endpoint!).filter((k) => k.startsWith('FG_KEEPER_'))).toEqual([]);
  });

  it('the control socket of a deep state dir is in a private folder, not a predictable /tmp name', async () => {
    const s = readState(stateDir)!;
    expect(s.socket).toBeDefined();
    const sockDir = path.dirname(s.socket!);
    expect(path.basename(s.socket!)).toBe('supervisor.sock');
    expect(modeOf(sockDir).toString(8)).toBe('700');
    expect(fs.statSync(sockDir).uid).toBe(process.getuid!());
    // the owner can (the socket works)
    expect((await godIn(['status', '--json', '--state-dir', stateDir], { cwd: dir })).code).toBe(0);
  });

  it.skipIf(!isRoot)('another local user cannot even reach the control socket', async () => {
    const socket = readState(stateDir)!.socket!;
    const probe = `require('net').connect(${JSON.stringify(socket)}).on('connect',()=>{console.log('CONNECTED');process.exit(0)}).on('error',(e)=>{console.log(e.code);process.exit(3)})`;
    const r = await asNobody(process.execPath, ['-e', probe]);
    expect(r.out.trim()).toBe('EACCES');
  });

  it('stopping removes the socket folder and leaves nothing behind', async () => {
    const s = readState(stateDir)!;
    child.kill('SIGINT');
    expect(await waitForExit(child, 30_000)).toBe(true);
    expect(fs.existsSync(path.dirname(s.socket!))).toBe(false);
    for (const pid of [s.redis_pid!, ...s.processes.map((p) => p.pid!)]) expect(pidAlive(pid)).toBe(false);
    expect(findProcessesUsing(dir)).toEqual([]);
  });
});

describe('background supervisor (god up)', () => {
  it('supervisor.log, state.json and the socket are private; an existing 0755 state dir is tightened', async () => {
    const dir = makeTempDir('god-secrets-up');
    const stateDir = path.join(dir, '.god/local');
    fs.mkdirSync(stateDir, { recursive: true, mode: 0o755 });
    fs.chmodSync(stateDir, 0o755);
    fs.writeFileSync(
      path.join(dir, 'god.config.yaml'),
      'roles:\n  feeder:\n    count: 0\n  endpoint:\n    count: 0\n  keeper:\n    count: 0\n',
    );
    try {
      const up = await god(['up', '--json', '--no-wait'], { cwd: dir });
      expect(up.code).toBe(0);
      const s = readState(stateDir)!;
      const password = decodeURIComponent(new URL(s.redis_url).password);
      expect(password.length).toBeGreaterThanOrEqual(32);
      expect(up.stdout).not.toContain(password);
      expect(modeOf(stateDir).toString(8)).toBe('700');
      for (const f of ['state.json', 'supervisor.log', 'supervisor.sock'].map((f) => path.join(stateDir, f)))
        expect([f, (modeOf(f) & 0o077).toString(8)]).toEqual([f, '0']);
      expect(fs.readFileSync(path.join(stateDir, 'supervisor.log'), 'utf8')).not.toContain(password);
    } finally {
      await godIn(['down', '--yes'], { cwd: dir });
    }
    expect(findProcessesUsing(dir)).toEqual([]);
  });

  it.skipIf(!isRoot)('a state dir owned by another user is refused with a clear error', async () => {
    const dir = makeTempDir('god-secrets-other');
    const stateDir = path.join(dir, 'theirs');
    fs.mkdirSync(stateDir, { mode: 0o700 });
    fs.chownSync(stateDir, 65534, 65534);
    fs.writeFileSync(path.join(dir, 'god.config.yaml'), 'roles:\n  feeder:\n    count: 0\n');
    const r = await godIn(['up', '--json', '--state-dir', stateDir], { cwd: dir });
    expect(r.code).not.toBe(0);
    const err = r.lines.find((l) => l.type === 'error')!;
    expect(err).toMatchObject({ code: 'GOD_STATE_DIR' });
    expect(String(err.message)).toContain(stateDir);
    expect(String(err.hint)).toMatch(/--state-dir/);
    expect(findProcessesUsing(dir)).toEqual([]);
  });
});

describe('a Redis password on the command line', () => {
  it('--redis with a password warns and points at GOD_REDIS_URL; the password is never printed', async () => {
    const dir = makeTempDir('god-secrets-flag');
    fs.writeFileSync(path.join(dir, 'god.config.yaml'), 'provider: local\n');
    // a closed port: the command fails fast, after the warning
    const r = await godIn(['status', '--json', '--redis', 'redis://:flag-pw-s3cret@127.0.0.1:1'], {
      cwd: dir,
    });
    const warn = r.lines.find(
      (l) => l.type === 'warn' && /--redis carries a password/.test(String(l.message)),
    );
    expect(warn?.hint).toMatch(/GOD_REDIS_URL=/);
    expect(r.stdout + r.stderr).not.toContain('flag-pw-s3cret');
    // the same URL from the environment: no warning
    const e = await godIn(['status', '--json'], {
      cwd: dir,
      env: { GOD_REDIS_URL: 'redis://:flag-pw-s3cret@127.0.0.1:1' },
    });
    expect(e.lines.some((l) => l.type === 'warn' && /--redis carries/.test(String(l.message)))).toBe(false);
    expect(e.stdout + e.stderr).not.toContain('flag-pw-s3cret');
  });

  it('god --help tells to pass a password through GOD_REDIS_URL', async () => {
    const r = await godIn(['--help'], { cwd: makeTempDir('god-secrets-help') });
    expect(r.stdout).toMatch(/--redis <url>[\s\S]*with a password use GOD_REDIS_URL/);
  });
});
