// The host is locked down: roles run as an unprivileged fleet user God creates on first deploy (never root),
// every systemd unit God writes passes `systemd-analyze verify` and scores "OK" or better in
// `systemd-analyze security`, an endpoint below port 1024 gets CAP_NET_BIND_SERVICE from its unit and nothing
// else (the supervisor refuses it), and the supervisor's logs rotate by size keeping at most their count.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploy } from '../../../god/core/deploy/deploy.ts';
import { specFor } from '../../../god/core/deploy/host-ops.ts';
import { RotatingLog } from '../../../god/core/deploy/remote/fg-supervisor.mjs';
import type { DeployHost } from '../../../god/core/deploy/types.ts';
import { redisContract } from '../../../protocol/redis-contract.ts';
import {
  makeTempDir,
  skipWithout,
  spawnTracked,
  sshAvailable,
  useRedis,
  useSshHosts,
  waitFor,
} from '../../harness/index.ts';
import { buildFixture } from './fixtures/build.ts';
import { deployHosts, PREFIX, sshOpts } from './helpers.ts';

const REMOTE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../god/core/deploy/remote');
interface UnitOptions {
  id: string;
  role: string;
  execPath: string;
  base: string;
  killMs: number;
  envFile: string;
  user: string;
  stateDir: string;
  port?: number;
  nofile?: number;
  writable?: string[];
}
const agent = (await import(path.join(REMOTE, 'fg-agent.mjs'))) as {
  unitText(o: UnitOptions): string;
  NOFILE_MIN: number;
};

const hasAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0;

describe.skipIf(skipWithout({ 'systemd-analyze': hasAnalyze }, 'apt-get install -y systemd'))(
  'the systemd units God writes',
  () => {
    const base = '/opt/filmgrain';
    // one unit per kind of process God runs: an endpoint on a low port is the one with a capability
    const kinds: Array<{ name: string; role: string; port?: number; nofile?: number; writable?: string[] }> =
      [
        { name: 'feeder', role: 'feeder' },
        // a file:// archive is the keeper's to write too
        { name: 'keeper', role: 'keeper', writable: ['/srv/fg archive'] },
        { name: 'endpoint', role: 'endpoint', port: 7000, nofile: 104_096 },
        { name: 'endpoint-443', role: 'endpoint', port: 443, nofile: 54_096 },
      ];
    const units = kinds.map((k) => {
      const id = `${k.name}-h1`;
      return {
        ...k,
        id,
        text: agent.unitText({
          id,
          role: k.role,
          execPath: process.execPath,
          base,
          killMs: 15_000,
          envFile: `${base}/run/${id}.env`,
          user: 'filmgrain',
          stateDir: `${base}/state/${id}`,
          port: k.port,
          nofile: k.nofile,
          writable: k.writable,
        }),
      };
    });
    const dir = makeTempDir('units');
    const fileOf = (id: string) => path.join(dir, `fg-${id}.service`);
    for (const u of units) fs.writeFileSync(fileOf(u.id), u.text);

    it('each is hardened as the issue lists, runs as the fleet user and logs to journald', () => {
      for (const u of units) {
        const lines = u.text.split('\n');
        for (const l of [
          'User=filmgrain',
          'NoNewPrivileges=yes',
          'ProtectSystem=strict',
          `ReadWritePaths=${[`${base}/state/${u.id}`, ...(u.writable ?? [])].map((d) => `"${d}"`).join(' ')}`,
          'ProtectHome=yes',
          'PrivateTmp=yes',
          'PrivateDevices=yes',
          'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX',
          'SystemCallFilter=@system-service',
          'Restart=on-failure',
          'StartLimitBurst=5',
          'StandardOutput=journal',
        ]) {
          expect([u.id, lines.includes(l)]).toEqual([u.id, true]);
        }
        // no file that never rotates
        expect(u.text).not.toContain('append:');
        const nofile = Number(/^LimitNOFILE=(\d+)$/m.exec(u.text)?.[1]);
        expect(nofile).toBe(Math.max(agent.NOFILE_MIN, u.nofile ?? 0));
        // the capability is the low-port endpoint's alone
        expect([u.id, u.text.includes('AmbientCapabilities=CAP_NET_BIND_SERVICE')]).toEqual([
          u.id,
          u.name === 'endpoint-443',
        ]);
      }
    });

    it('each passes systemd-analyze verify, with no warning', () => {
      for (const u of units) {
        const r = spawnSync('systemd-analyze', ['verify', fileOf(u.id)], { encoding: 'utf8' });
        expect([u.id, r.status, r.stderr.trim()]).toEqual([u.id, 0, '']);
      }
    });

    it('each scores "OK" or better in systemd-analyze security', () => {
      const scores: Record<string, string> = {};
      for (const u of units) {
        const r = spawnSync('systemd-analyze', ['security', '--offline=yes', fileOf(u.id)], {
          encoding: 'utf8',
        });
        const m = /Overall exposure level for \S+: (\d+\.\d+) (\w+)/.exec(r.stdout);
        expect([u.id, m?.[2]]).toEqual([u.id, expect.stringMatching(/^(PERFECT|SAFE|OK)$/)]);
        scores[u.name] = `${m![1]} ${m![2]}`;
      }
      // the figures README and ARCHITECTURE quote
      console.info(`[fleet-user] systemd-analyze security: ${JSON.stringify(scores)}`);
    });
  },
);

describe('what God tells the host agent about a process', () => {
  it('an endpoint its port and the open files of its --max-clients; a role the folders its options write', () => {
    expect(
      specFor(
        { role: 'endpoint', id: 'e1', env: { FG_ENDPOINT_MAX_CLIENTS: '50000' }, endpoint: { port: 443 } },
        'v1',
      ),
    ).toMatchObject({ port: 443, nofile: 54_096 });
    // the default --max-clients (100000)
    expect(specFor({ role: 'endpoint', id: 'e1', env: {}, endpoint: { port: 7000 } }, 'v1').nofile).toBe(
      104_096,
    );
    const keeper = specFor(
      {
        role: 'keeper',
        id: 'k1',
        env: { FG_KEEPER_ARCHIVE: 'file:///srv/archive', FG_KEEPER_SPOOL_DIR: 'spool' },
      },
      'v1',
    );
    // a relative spool lives in the working directory, the state folder
    expect(keeper.writable).toEqual(['/srv/archive']);
    expect(
      specFor({ role: 'feeder', id: 'f1', env: { FG_RECORD: '/var/lib/fg/tweets.ndjson' } }, 'v1').writable,
    ).toEqual(['/var/lib/fg']);
    expect(
      specFor({ role: 'keeper', id: 'k1', env: { FG_KEEPER_ARCHIVE: 's3://b/p' } }, 'v1').writable,
    ).toBeUndefined();
  });
});

describe('the supervisor log', () => {
  it('rotates by size and keeps at most its count of files, dropping older extra ones', async () => {
    const base = makeTempDir('rotation');
    for (const d of ['releases/v1', 'run', 'logs']) fs.mkdirSync(path.join(base, d), { recursive: true });
    fs.symlinkSync('releases/v1', path.join(base, 'current'));
    fs.copyFileSync(path.join(REMOTE, 'fg-supervisor.mjs'), path.join(base, 'current', 'fg-supervisor.mjs'));
    // 400 numbered lines of 100 bytes (40 KB), then END, then it stays up
    fs.writeFileSync(
      path.join(base, 'current', 'feeder.mjs'),
      `for (let i = 0; i < 400; i++) process.stdout.write(\`line \${String(i).padStart(4, '0')} \${'x'.repeat(89)}\\n\`);
process.stdout.write('END\\n');
setInterval(() => {}, 1000);\n`,
    );
    fs.writeFileSync(
      path.join(base, 'run', 'f1.json'),
      JSON.stringify({ role: 'feeder', id: 'f1', env: {} }),
    );
    const log = path.join(base, 'logs', 'f1.log');
    // an older release kept more files: they go at the first rotation
    for (const n of [3, 4, 5]) fs.writeFileSync(`${log}.${n}`, 'old\n');
    const sup = spawnTracked(
      process.execPath,
      [path.join(base, 'current', 'fg-supervisor.mjs'), base, 'f1'],
      {
        stdio: 'ignore',
        env: { ...process.env, FG_SUPERVISOR: JSON.stringify({ log, log_bytes: 4096, log_files: 3 }) },
      },
    );
    const files = () => fs.readdirSync(path.join(base, 'logs')).sort();
    const all = () => files().map((f) => fs.readFileSync(path.join(base, 'logs', f), 'utf8'));
    await waitFor(() => all().some((t) => t.includes('END')), 10_000, "the role's END line in a log file");
    expect(files()).toEqual(['f1.log', 'f1.log.1', 'f1.log.2']);
    for (const f of files()) expect(fs.statSync(path.join(base, 'logs', f)).size).toBeLessThanOrEqual(4096);
    expect((fs.statSync(log).mode & 0o777).toString(8)).toBe('600');
    // the newest lines, in order and whole, oldest file first
    const text = [`${log}.2`, `${log}.1`, log].map((f) => fs.readFileSync(f, 'utf8')).join('');
    const nums = [...text.matchAll(/^line (\d{4}) x{89}$/gm)].map((m) => Number(m[1]));
    expect(nums.length).toBeGreaterThan(60);
    expect(nums).toEqual(nums.map((_, i) => 399 - (nums.length - 1) + i));
    expect(text.trimEnd().endsWith('END')).toBe(true);
    const exited = new Promise((r) => sup.once('exit', r));
    sup.kill('SIGTERM');
    await exited;
  });

  it('with a count of 1 keeps only the live file', () => {
    const log = path.join(makeTempDir('rotation1'), 'x.log');
    const r = new RotatingLog(log, { maxBytes: 1024, files: 1 });
    for (let i = 0; i < 50; i++) r.write(Buffer.from(`${'y'.repeat(99)}\n`));
    r.close();
    expect(fs.readdirSync(path.dirname(log))).toEqual(['x.log']);
    expect(fs.statSync(log).size).toBeLessThanOrEqual(1024);
  });
});

const isRoot = process.getuid?.() === 0;
// a user of this test run (the hosts are this machine): created by the deploy, removed after
const FLEET_USER = `fgt-${process.pid}-${Date.now().toString(36)}`;

describe.skipIf(skipWithout({ sshd: sshAvailable() }, 'apt-get install -y openssh-server openssh-client'))(
  'roles on loopback sshd hosts run as the fleet user',
  () => {
    const getRedis = useRedis();
    const getFleet = useSshHosts(2);
    let redis: Redis;
    let hosts: DeployHost[];

    beforeAll(async () => {
      redis = new Redis(getRedis().url, { lazyConnect: false });
      hosts = (await deployHosts(getFleet(), getRedis().url)).map((h) => ({ ...h, runAs: FLEET_USER }));
    });
    afterAll(async () => {
      for (const h of hosts ?? []) {
        spawnSync(process.execPath, [path.join(h.baseDir, 'current', 'fg-agent.mjs')], {
          input: JSON.stringify({ base: h.baseDir, mode: 'supervisor', cmd: 'stop' }),
        });
      }
      redis?.disconnect();
      if (isRoot) spawnSync('userdel', [FLEET_USER]);
    });

    it('God creates the user on first deploy (two hosts at once) and every role process runs as it', async () => {
      expect(spawnSync('getent', ['passwd', FLEET_USER]).status).not.toBe(0);
      const bundle = path.join(makeTempDir('fleet-user-bundle'), 'v1');
      await buildFixture(bundle, { version: 'v1' });
      const res = await deploy({
        hosts,
        ssh: sshOpts(getFleet()),
        redis,
        keys: redisContract(PREFIX),
        healthTimeoutMs: 20_000,
        killMs: 5000,
        bundleDir: bundle,
        version: 'v1',
        events: { emit() {} },
        mode: 'supervisor',
      });
      expect(res.hosts.map((x) => [x.host, x.status, x.error])).toEqual(
        hosts.map((h) => [h.name, 'deployed', undefined]),
      );
      const want = isRoot
        ? Number(execFileSync('id', ['-u', FLEET_USER], { encoding: 'utf8' }))
        : process.getuid!();
      expect(want).not.toBe(0);
      for (const h of hosts) {
        for (const p of h.processes) {
          const st = JSON.parse(fs.readFileSync(path.join(h.baseDir, 'run', `${p.id}.state`), 'utf8'));
          const status = fs.readFileSync(`/proc/${st.child_pid}/status`, 'utf8');
          // real, effective, saved and filesystem uid
          expect([p.id, /^Uid:\s+(.*)$/m.exec(status)?.[1]?.split(/\s+/)]).toEqual([
            p.id,
            Array(4).fill(String(want)),
          ]);
          expect(/^Groups:[ \t]*(.*)$/m.exec(status)?.[1]?.trim()).toBe('');
          const environ = fs.readFileSync(`/proc/${st.child_pid}/environ`, 'utf8').split('\0');
          const state = path.join(h.baseDir, 'state', p.id);
          expect(environ).toContain(`HOME=${state}`);
          // its own folder is the fleet user's and private; the release is not its to change
          const sd = fs.statSync(state);
          expect([sd.uid, (sd.mode & 0o777).toString(8)]).toEqual([want, '700']);
          expect(fs.statSync(path.join(h.baseDir, 'releases', 'v1')).uid).toBe(process.getuid!());
        }
      }
      // `god logs` reads the Redis stream, which the roles write whatever user they run as
      const ids = new Set<string>();
      for (const [, fields] of await redis.xrange(redisContract(PREFIX).logStream, '-', '+')) {
        const i = fields.indexOf('id');
        if (i >= 0) ids.add(fields[i + 1]!);
      }
      for (const h of hosts) for (const p of h.processes) expect([...ids]).toContain(p.id);
    });

    it('the supervisor refuses an endpoint below port 1024 (only systemd grants the capability)', () => {
      const h = hosts[0]!;
      const r = spawnSync(process.execPath, [path.join(h.baseDir, 'current', 'fg-agent.mjs')], {
        input: JSON.stringify({
          base: h.baseDir,
          mode: 'supervisor',
          run_as: FLEET_USER,
          cmd: 'start',
          processes: [{ role: 'endpoint', id: 'endpoint-low', env: {}, port: 443 }],
        }),
        encoding: 'utf8',
      });
      expect(r.status).toBe(1);
      expect(JSON.parse(r.stdout).error).toMatch(
        /endpoint-low listens on port 443, below 1024: .*only systemd mode grants .*CAP_NET_BIND_SERVICE/,
      );
      expect(fs.existsSync(path.join(h.baseDir, 'run', 'endpoint-low.json'))).toBe(false);
    });
  },
);
