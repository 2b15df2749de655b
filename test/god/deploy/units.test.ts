// systemd units and the other files a deploy leaves on a host: the unit carries no secret (they are in a
// 0600 EnvironmentFile=), a value that could add directives is refused naming its key (by God before any
// upload, and by the agent), `systemd-analyze verify` accepts the unit, and on a real loopback sshd host the
// process specs and logs are 0600 in 0700 folders.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GodConfigSchema } from '../../../god/core/config/schema.ts';
import { deploy } from '../../../god/core/deploy/deploy.ts';
import { processFor } from '../../../god/core/deploy/remote-fleet.ts';
import { redisContract } from '../../../protocol/redis-contract.ts';
import { UserError } from '../../../roles/runtime/errors.ts';
import { makeTempDir, skipWithout, sshAvailable, useRedis, useSshHosts } from '../../harness/index.ts';
import { buildFixture } from './fixtures/build.ts';
import { deployHosts, PREFIX, sshOpts } from './helpers.ts';

const AGENT = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../god/core/deploy/remote/fg-agent.mjs',
);
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
}
const agent = (await import(AGENT)) as {
  envFileText(env: Record<string, string>): string;
  unitText(o: UnitOptions): string;
};

const SECRET_URL = 'redis://:pa"ss$wo`rd\\x@10.0.0.5:6379';

function unitFor(base: string) {
  return agent.unitText({
    id: 'feeder-h1',
    role: 'feeder',
    execPath: process.execPath,
    base,
    killMs: 15_000,
    envFile: path.join(base, 'run', 'feeder-h1.env'),
    user: 'filmgrain',
    stateDir: path.join(base, 'state', 'feeder-h1'),
  });
}

describe('systemd unit and environment file', () => {
  it('the unit names an EnvironmentFile and holds no value of the environment', () => {
    const unit = unitFor('/srv/fg');
    expect(unit).toContain('EnvironmentFile=/srv/fg/run/feeder-h1.env\n');
    expect(unit).not.toMatch(/^Environment=/m);
    expect(unit).not.toContain('redis://');
    const env = agent.envFileText({ FG_REDIS_URL: SECRET_URL, FG_ID: 'feeder-h1' });
    // systemd's env-file syntax: double quotes, backslash before " \ ` $
    expect(env.split('\n').filter((l) => !l.startsWith('#'))).toEqual([
      'FG_REDIS_URL="redis://:pa\\"ss\\$wo\\`rd\\\\x@10.0.0.5:6379"',
      'FG_ID="feeder-h1"',
      '',
    ]);
  });

  it('values with a newline, NUL or % are refused by the agent, naming the key and not the value', () => {
    for (const [v, what] of [
      ['x\nExecStartPre=/bin/sh -c evil', 'newline'],
      ['x\r', 'newline'],
      ['a\0b', 'NUL'],
      ['100%d', '%'],
    ]) {
      expect(() => agent.envFileText({ OK: '1', FG_BAD: v! })).toThrow(
        new RegExp(`value of FG_BAD contains .*${what}`),
      );
      try {
        agent.envFileText({ FG_BAD: v! });
      } catch (err) {
        expect((err as Error).message).not.toContain(v!);
      }
    }
    expect(() => agent.envFileText({ 'BAD NAME': '1' })).toThrow(/not valid/);
  });

  it('God refuses them before any upload, with a UserError naming the key', () => {
    const config = GodConfigSchema.parse({
      redis: { url: 'redis://127.0.0.1:6379' },
      roles: { feeder: { env: { FG_EXTRA: 'a\nExecStartPre=/bin/evil' } } },
    });
    let err: unknown;
    try {
      processFor(config, 'feeder', 'h1', 'redis://127.0.0.1:6379');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).code).toBe('GOD_ENV_VALUE');
    expect((err as UserError).message).toMatch(/feeder-h1: the value of FG_EXTRA contains a newline/);
    expect((err as UserError).hint).toMatch(/FG_EXTRA/);
    const pct = () => processFor(config, 'feeder', 'h1', 'redis://:50%off@127.0.0.1:6379');
    config.roles.feeder.env = {};
    expect(pct).toThrow(/value of FG_REDIS_URL contains a "%"/);
    expect(processFor(config, 'feeder', 'h1', 'redis://:ok@127.0.0.1:6379').env.FG_REDIS_URL).toBe(
      'redis://:ok@127.0.0.1:6379',
    );
  });

  const analyze = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
  // under CI a missing systemd-analyze fails (scripts/bootstrap.mjs installs it)
  it.skipIf(skipWithout({ 'systemd-analyze': analyze.status === 0 }, 'apt-get install -y systemd'))(
    'systemd-analyze verify accepts the unit, with no warning',
    () => {
      const base = makeTempDir('unit');
      for (const d of ['current', 'run', 'logs', 'state/feeder-h1'])
        fs.mkdirSync(path.join(base, d), { recursive: true });
      fs.writeFileSync(path.join(base, 'current', 'feeder.mjs'), '');
      fs.writeFileSync(
        path.join(base, 'run', 'feeder-h1.env'),
        agent.envFileText({ FG_REDIS_URL: SECRET_URL }),
        {
          mode: 0o600,
        },
      );
      const file = path.join(base, 'fg-feeder-h1.service');
      fs.writeFileSync(file, unitFor(base));
      const r = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8' });
      expect([r.status, r.stderr.trim()]).toEqual([0, '']);
      // the probe can fail: a directive systemd does not know is reported
      fs.appendFileSync(file, '[Service]\nBogus=1\n');
      const bad = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8' });
      expect(bad.stderr).toMatch(/Unknown key 'Bogus'/);
    },
  );
});

describe.skipIf(!sshAvailable())('files a deploy leaves on a loopback sshd host', () => {
  const getRedis = useRedis();
  const getFleet = useSshHosts(1);
  let redis: Redis;

  beforeAll(() => {
    redis = new Redis(getRedis().url, { lazyConnect: false });
  });
  afterAll(async () => {
    redis?.disconnect();
  });

  it('process specs (with the Redis URL) and logs are 0600 in 0700 folders, also where an older deploy left 0755', async () => {
    const hosts = await deployHosts(getFleet(), getRedis().url);
    const h = hosts[0]!;
    // what an older release left: world-readable folders
    for (const d of ['run', 'logs']) fs.mkdirSync(path.join(h.baseDir, d), { recursive: true, mode: 0o755 });
    for (const d of ['run', 'logs']) fs.chmodSync(path.join(h.baseDir, d), 0o755);
    const bundle = path.join(makeTempDir('units-bundle'), 'v1');
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
    expect(res.hosts.map((x) => [x.host, x.status, x.error])).toEqual([[h.name, 'deployed', undefined]]);
    const mode = (p: string) => (fs.statSync(p).mode & 0o777).toString(8);
    for (const d of ['run', 'logs']) expect([d, mode(path.join(h.baseDir, d))]).toEqual([d, '700']);
    const specs = fs.readdirSync(path.join(h.baseDir, 'run')).filter((f) => f.endsWith('.json'));
    expect(specs.sort()).toEqual([`endpoint-${h.name}.json`, `feeder-${h.name}.json`]);
    for (const f of specs) {
      const file = path.join(h.baseDir, 'run', f);
      expect(fs.readFileSync(file, 'utf8')).toContain('FG_REDIS_URL');
      expect([f, mode(file)]).toEqual([f, '600']);
    }
    const logs = fs.readdirSync(path.join(h.baseDir, 'logs'));
    expect(logs.length).toBeGreaterThanOrEqual(2);
    for (const f of logs) expect([f, mode(path.join(h.baseDir, 'logs', f))]).toEqual([f, '600']);
    // stop what we started
    const stop = spawnSync(process.execPath, [path.join(h.baseDir, 'current', 'fg-agent.mjs')], {
      input: JSON.stringify({ base: h.baseDir, mode: 'supervisor', cmd: 'stop' }),
      encoding: 'utf8',
    });
    expect(stop.stdout).toContain('"ok":true');
  });
});
