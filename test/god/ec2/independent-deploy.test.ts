// The deploy `god up` runs on ec2 (ready.ts) treats each new host on its own: one failing its health check is
// rolled back alone and the others stay deployed, where `god deploy` rolls the whole batch back and stops.
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploy } from '../../../god/core/deploy/deploy.ts';
import type { DeployHost } from '../../../god/core/deploy/types.ts';
import { redisContract } from '../../../protocol/redis-contract.ts';
import { makeTempDir, skipWithout, sshAvailable, useRedis, useSshHosts } from '../../harness/index.ts';
import { buildFixture } from '../deploy/fixtures/build.ts';
import { deployHostOf, seedRuntime } from '../deploy/helpers.ts';

describe.skipIf(skipWithout({ sshd: sshAvailable() }, 'apt-get install -y openssh-server openssh-client'))(
  'deploy with independent hosts',
  () => {
    const getRedis = useRedis();
    const getFleet = useSshHosts(2);
    let redis: Redis;
    let hosts: DeployHost[];
    let bundles: string;
    const keys = redisContract('ind:');

    beforeAll(async () => {
      redis = new Redis(getRedis().url);
      const env = (host: string) => ({
        FG_REDIS_URL: getRedis().url,
        FG_PREFIX: 'ind:',
        FG_HOST: host,
        FG_STOP_TIMEOUT: '3s',
      });
      // host1 runs a keeper built to crash at start-up, host2 a feeder that is fine
      const [h1, h2] = getFleet().hosts;
      hosts = [
        deployHostOf(h1!, [{ role: 'keeper', id: 'keeper-host1', env: env('host1') }]),
        deployHostOf(h2!, [{ role: 'feeder', id: 'feeder-host2', env: env('host2') }]),
      ];
      await Promise.all(hosts.map((h) => seedRuntime(h.baseDir)));
      bundles = path.join(makeTempDir('independent'), 'b');
      await buildFixture(bundles, { version: 'i1', crash: ['keeper'] });
    }, 60_000);
    afterAll(() => redis?.disconnect());

    it('a host failing its health check is rolled back alone; the others stay deployed', async () => {
      const res = await deploy({
        hosts,
        ssh: { privateKey: getFleet().privateKey, knownHostsPath: getFleet().knownHostsPath },
        redis,
        keys,
        bundleDir: bundles,
        version: 'i1',
        // the feeder beats 3 times in it even on a loaded machine; the crashing keeper never does
        healthTimeoutMs: 10_000,
        mode: 'supervisor',
        independent: true,
      });
      expect(res.stoppedAtBatch).toBeUndefined();
      expect(res.hosts.map((h) => [h.host, h.status, h.current])).toEqual([
        ['host1', 'rolled_back', null],
        ['host2', 'deployed', 'i1'],
      ]);
      expect(res.hosts[0]).toMatchObject({ code: 'GOD_DEPLOY_HEALTH' });
      expect(res.hosts[0]!.error).toMatch(/keeper keeper-host1: .*expected version i1/);
      expect(JSON.parse((await redis.get(keys.heartbeat('feeder', 'feeder-host2')))!).version).toBe('i1');
    }, 60_000);
  },
);
