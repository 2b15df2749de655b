// The real endpoint bundle deployed over SSH: the health check's protocol `connect` gets `set_movies` from it;
// where no endpoint answers, the check says so.
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploy } from '../../../god/core/deploy/deploy.ts';
import { checkEndpoint } from '../../../god/core/deploy/health.ts';
import type { DeployHost } from '../../../god/core/deploy/types.ts';
import { redisContract } from '../../../protocol/redis-contract.ts';
import {
  freePort,
  makeTempDir,
  skipWithout,
  sshAvailable,
  useRedis,
  useSshHosts,
} from '../../harness/index.ts';
import { bundleEndpoint, deployHostOf, seedRuntime } from './helpers.ts';

describe.skipIf(skipWithout({ sshd: sshAvailable() }, 'apt-get install -y openssh-server openssh-client'))(
  'deploy of the real endpoint role',
  () => {
    const getRedis = useRedis();
    const getFleet = useSshHosts(1);
    let redis: Redis;
    let host: DeployHost;
    let dir: string;
    const keys = redisContract('re:');

    beforeAll(async () => {
      redis = new Redis(getRedis().url);
      const h = getFleet().hosts[0]!;
      const port = await freePort(h.address);
      host = deployHostOf(h, [
        {
          role: 'endpoint',
          id: 'endpoint-1',
          env: {
            FG_REDIS_URL: getRedis().url,
            FG_PREFIX: 're:',
            FG_HOST: h.name,
            FG_ENDPOINT_HOST: h.address,
            FG_ENDPOINT_PORT: String(port),
            FG_ENDPOINT_DRAIN_GRACE: '200ms',
          },
          endpoint: { port },
        },
      ]);
      await seedRuntime(host.baseDir);
      dir = makeTempDir('real-endpoint');
      await bundleEndpoint(path.join(dir, 'e1'), 'e1');
    }, 90_000);
    afterAll(() => redis?.disconnect());

    const ssh = () => ({ privateKey: getFleet().privateKey, knownHostsPath: getFleet().knownHostsPath });

    it('is healthy once it beats and answers connect with set_movies', async () => {
      const res = await deploy({
        hosts: [host],
        ssh: ssh(),
        redis,
        keys,
        bundleDir: path.join(dir, 'e1'),
        version: 'e1',
        healthTimeoutMs: 30_000,
      });
      expect(res.hosts.map((h) => [h.status, h.error])).toEqual([['deployed', undefined]]);
      expect(JSON.parse((await redis.get(keys.heartbeat('endpoint', 'endpoint-1')))!).version).toBe('e1');
    });

    it('the endpoint check fails clearly where no endpoint answers', async () => {
      const port = host.processes[0]!.endpoint!.port;
      expect(await checkEndpoint({ host: host.address, port }, 5000)).toEqual({ ok: true });
      const wrong = await freePort(host.address);
      const r = await checkEndpoint({ host: host.address, port: wrong }, 5000);
      expect(r.ok).toBe(false);
      expect(!r.ok && r.error).toMatch(
        new RegExp(`endpoint tcp://${host.address.replace(/\./g, '\\.')}:${wrong}: .*ECONNREFUSED`),
      );
    });
  },
);
