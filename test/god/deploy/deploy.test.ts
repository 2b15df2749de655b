// Deploys to three real loopback sshd hosts: fresh, redeploy, dry run, rolling with a failing health check,
// rollback, an unreachable host, and the deploy lock.
import fs from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploy } from '../../../god/core/deploy/deploy.ts';
import { rollback } from '../../../god/core/deploy/rollback.ts';
import type { DeployHost } from '../../../god/core/deploy/types.ts';
import type { GodEvent } from '../../../god/core/events.ts';
import { redisContract } from '../../../protocol/redis-contract.ts';
import {
  makeTempDir,
  skipWithout,
  sshAvailable,
  useRedis,
  useSshHosts,
  waitFor,
} from '../../harness/index.ts';
import { buildFixture } from './fixtures/build.ts';
import { deployHosts, PREFIX, sshOpts, versionsOf } from './helpers.ts';

const keys = redisContract(PREFIX);

describe.skipIf(skipWithout({ sshd: sshAvailable() }, 'apt-get install -y openssh-server openssh-client'))(
  'god deploy over ssh',
  () => {
    const getRedis = useRedis();
    const getFleet = useSshHosts(3);
    let redis: Redis;
    let hosts: DeployHost[];
    let bundles: Record<string, string>;

    beforeAll(async () => {
      redis = new Redis(getRedis().url, { lazyConnect: false });
      hosts = await deployHosts(getFleet(), getRedis().url);
      const dir = makeTempDir('deploy-bundles');
      bundles = { v1: path.join(dir, 'v1'), v2: path.join(dir, 'v2'), bad: path.join(dir, 'bad') };
      await buildFixture(bundles.v1, { version: 'v1' });
      // v2: only the endpoint bundle differs from v1
      fs.cpSync(bundles.v1, bundles.v2, { recursive: true });
      await buildFixture(bundles.v2, { version: 'v2', roles: ['endpoint'], marker: 'v2' });
      await buildFixture(bundles.bad, { version: 'bad', crash: ['feeder'], marker: 'bad' });
    });
    afterAll(async () => {
      redis?.disconnect();
    });

    const base = () => ({
      hosts,
      ssh: sshOpts(getFleet()),
      redis,
      keys,
      healthTimeoutMs: 20_000,
      killMs: 5000,
    });

    it('deploys a fresh release to every host, health-checked, with NDJSON-able events', async () => {
      const events: GodEvent[] = [];
      const res = await deploy({
        ...base(),
        bundleDir: bundles.v1,
        version: 'v1',
        events: { emit: (e) => events.push(e) },
      });
      expect(res.hosts.map((h) => [h.host, h.status, h.error])).toEqual(
        hosts.map((h) => [h.name, 'deployed', undefined]),
      );
      expect(res.ok).toBe(true);
      for (const h of res.hosts) {
        // keeper.mjs is not shipped: no host runs a keeper
        expect(h.uploaded.sort()).toEqual([
          'endpoint.mjs',
          'feeder.mjs',
          'fg-agent.mjs',
          'fg-supervisor.mjs',
          'manifest.json',
        ]);
      }
      expect(Object.values(await versionsOf(redis, hosts))).toEqual(Array(6).fill('v1'));
      for (const h of hosts) {
        expect(fs.readlinkSync(path.join(h.baseDir, 'current'))).toBe('releases/v1');
        expect(fs.existsSync(path.join(h.baseDir, 'run', `feeder-${h.name}.pid`))).toBe(true);
      }
      // one end event per step per host
      const ends = events.filter((e) => e.type === 'host' && e.phase === 'end');
      for (const step of ['plan', 'upload', 'activate', 'health']) {
        expect(
          ends
            .filter((e) => e.type === 'host' && e.step === step)
            .map((e) => (e as { host: string }).host)
            .sort(),
        ).toEqual(hosts.map((h) => h.name));
      }
      for (const e of events) expect(() => JSON.parse(JSON.stringify(e))).not.toThrow();
    });

    it('the supervisor restarts a role that crashes', async () => {
      const h = hosts[0]!;
      const st = JSON.parse(fs.readFileSync(path.join(h.baseDir, 'run', `feeder-${h.name}.state`), 'utf8'));
      process.kill(st.child_pid, 'SIGKILL');
      await waitFor(
        () => {
          const s = JSON.parse(
            fs.readFileSync(path.join(h.baseDir, 'run', `feeder-${h.name}.state`), 'utf8'),
          );
          return s.restarts === 1 && s.child_pid !== st.child_pid;
        },
        10_000,
        'the supervisor to restart the feeder',
      );
    });

    it('redeploy uploads only the changed files; the same release again changes nothing', async () => {
      const res = await deploy({ ...base(), bundleDir: bundles.v2, version: 'v2' });
      expect(res.ok).toBe(true);
      for (const h of res.hosts) {
        expect(h.status).toBe('deployed');
        expect(h.uploaded).toEqual(['endpoint.mjs']);
        expect(h.reused.sort()).toEqual(['feeder.mjs', 'fg-agent.mjs', 'fg-supervisor.mjs', 'manifest.json']);
      }
      expect(Object.values(await versionsOf(redis, hosts))).toEqual(Array(6).fill('v2'));
      const again = await deploy({ ...base(), bundleDir: bundles.v2, version: 'v2' });
      expect(again.hosts.map((h) => h.status)).toEqual(['unchanged', 'unchanged', 'unchanged']);
      expect(again.hosts.flatMap((h) => h.uploaded)).toEqual([]);
    });

    it('--dry-run reports what would change and changes nothing', async () => {
      const before = hosts.map((h) => fs.readdirSync(path.join(h.baseDir, 'releases')).sort());
      const res = await deploy({ ...base(), bundleDir: bundles.bad, version: 'v3', dryRun: true });
      expect(res.dryRun).toBe(true);
      for (const h of res.hosts) {
        expect(h.status).toBe('planned');
        expect(h.uploaded.sort()).toEqual(['endpoint.mjs', 'feeder.mjs', 'manifest.json']);
        expect(h.restarted.sort()).toEqual([`endpoint-${h.host}`, `feeder-${h.host}`]);
      }
      expect(hosts.map((h) => fs.readdirSync(path.join(h.baseDir, 'releases')).sort())).toEqual(before);
      expect(hosts.map((h) => fs.readlinkSync(path.join(h.baseDir, 'current')))).toEqual(
        Array(3).fill('releases/v2'),
      );
      expect(await redis.exists(keys.deployLock)).toBe(0);
    });

    it('a failing health check rolls its batch back and stops the rollout', async () => {
      const res = await deploy({
        ...base(),
        bundleDir: bundles.bad,
        version: 'v3',
        batch: 1,
        healthTimeoutMs: 4000,
      });
      expect(res.ok).toBe(false);
      expect(res.stoppedAtBatch).toBe(1);
      expect(res.hosts.map((h) => h.status)).toEqual(['rolled_back', 'skipped', 'skipped']);
      expect(res.hosts[0]!.error).toMatch(/feeder feeder-host1: .*expected version v3/);
      expect(res.hosts[0]!.error).toMatch(/built to crash/); // the log tail of the process
      expect(fs.readlinkSync(path.join(hosts[0]!.baseDir, 'current'))).toBe('releases/v2');
      // the failed release is forgotten: `god rollback` must not go back to it
      expect(fs.readFileSync(path.join(hosts[0]!.baseDir, 'releases.log'), 'utf8')).toBe('v1\nv2\n');
      await waitFor(
        async () => Object.values(await versionsOf(redis, hosts)).every((v) => v === 'v2'),
        15_000,
        'every process back on v2',
      );
      // untouched hosts never saw v3
      expect(fs.existsSync(path.join(hosts[1]!.baseDir, 'releases', 'v3'))).toBe(false);
    });

    it('god rollback puts every host on the previous release', async () => {
      const res = await rollback({ ...base() });
      expect(res.hosts.map((h) => [h.status, h.current])).toEqual(Array(3).fill(['deployed', 'v1']));
      expect(Object.values(await versionsOf(redis, hosts))).toEqual(Array(6).fill('v1'));
      const bad = await rollback({ ...base(), version: 'nope' });
      expect(bad.ok).toBe(false);
      expect(bad.hosts[0]!.error).toMatch(/release nope is not on host1.*v1.*v2/);
    });

    it('an unreachable host is reported while the others deploy', async () => {
      await getFleet().stopHost(2);
      try {
        const res = await deploy({ ...base(), bundleDir: bundles.v2, version: 'v2' });
        expect(res.ok).toBe(false);
        expect(res.hosts.map((h) => h.status)).toEqual(['deployed', 'deployed', 'failed']);
        expect(res.hosts[2]).toMatchObject({ code: 'GOD_SSH_UNREACHABLE' });
        expect(res.hosts[2]!.error).toMatch(/host3 .* is unreachable: connection refused/);
      } finally {
        await getFleet().startHost(2);
      }
    });

    it('a deploy lock held by another operator is a clear error and changes nothing', async () => {
      await redis.set(
        keys.deployLock,
        JSON.stringify({
          owner: 'alice@ops-box (pid 42)',
          what: 'deploy 9.9',
          since: '2026-11-22T10:00:00Z',
          token: 'x',
        }),
        'PX',
        60_000,
      );
      try {
        await expect(deploy({ ...base(), bundleDir: bundles.v1, version: 'v1' })).rejects.toMatchObject({
          code: 'GOD_DEPLOY_LOCKED',
          message: expect.stringMatching(
            /alice@ops-box \(pid 42\) \(deploy 9\.9\) since 2026-11-22T10:00:00Z/,
          ),
        });
        expect(fs.readlinkSync(path.join(hosts[0]!.baseDir, 'current'))).toBe('releases/v2');
      } finally {
        await redis.del(keys.deployLock);
      }
    });
  },
);
