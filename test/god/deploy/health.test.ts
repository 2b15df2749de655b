// The deploy health check against a real loopback sshd host when a dead process's heartbeat stays behind: the
// releases here SIGKILL themselves when stopped (dirtyStop), so every restart leaves the old process's fresh-looking
// heartbeat in Redis. A process that beats once and dies must fail the deploy (and roll it back); redeploying the
// same version must not pass on the old process's heartbeat.
import fs from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploy } from '../../../god/core/deploy/deploy.ts';
import type { DeployHost } from '../../../god/core/deploy/types.ts';
import { redisContract } from '../../../protocol/redis-contract.ts';
import { makeTempDir, sshAvailable, useRedis, useSshHosts, waitFor } from '../../harness/index.ts';
import { buildFixture } from './fixtures/build.ts';
import { deployHostOf, PREFIX, seedRuntime, sshOpts } from './helpers.ts';

const keys = redisContract(PREFIX);

describe.skipIf(!sshAvailable())('deploy health: the process that should be there is there', () => {
  const getRedis = useRedis();
  const getFleet = useSshHosts(1);
  let redis: Redis;
  let host: DeployHost;
  let bundles: Record<'g1' | 'once' | 'g1crash' | 'g2', string>;
  const hbKey = keys.heartbeat('feeder', 'feeder-host1');
  const beat = async () => {
    const v = await redis.get(hbKey);
    return v ? (JSON.parse(v) as { pid: number; version: string; seq?: number }) : undefined;
  };

  beforeAll(async () => {
    redis = new Redis(getRedis().url);
    const h = getFleet().hosts[0]!;
    const env = { FG_REDIS_URL: getRedis().url, FG_PREFIX: PREFIX, FG_HOST: h.name, FG_STOP_TIMEOUT: '3s' };
    host = deployHostOf(h, [{ role: 'feeder', id: `feeder-${h.name}`, env }]);
    await seedRuntime(host.baseDir);
    const dir = makeTempDir('deploy-health-bundles');
    bundles = {
      g1: path.join(dir, 'g1'),
      once: path.join(dir, 'once'),
      g1crash: path.join(dir, 'g1crash'),
      g2: path.join(dir, 'g2'),
    };
    await buildFixture(bundles.g1, { version: 'g1', dirtyStop: ['feeder'] });
    await buildFixture(bundles.once, { version: 'o1', beatOnce: ['feeder'], dirtyStop: ['feeder'] });
    // the same version name with other bytes: a redeploy of g1 that dies at start-up
    await buildFixture(bundles.g1crash, { version: 'g1', crash: ['feeder'], marker: 'crash' });
    await buildFixture(bundles.g2, { version: 'g2', marker: 'g2' });
  });
  afterAll(() => redis?.disconnect());

  const base = () => ({
    hosts: [host],
    ssh: sshOpts(getFleet()),
    redis,
    keys,
    healthTimeoutMs: 20_000,
    killMs: 5000,
  });

  it('a fresh deploy waits for the new process to beat (it leaves its heartbeat behind when stopped)', async () => {
    const res = await deploy({ ...base(), bundleDir: bundles.g1, version: 'g1' });
    expect(res.hosts.map((h) => [h.status, h.error])).toEqual([['deployed', undefined]]);
    const hb = await beat();
    expect(hb).toMatchObject({ version: 'g1' });
    // healthy means stable: it had beaten three times when the deploy said so
    expect(hb!.seq).toBeGreaterThanOrEqual(3);
  });

  it('a process that beats once then dies fails the health check; the batch is rolled back', async () => {
    const res = await deploy({ ...base(), bundleDir: bundles.once, version: 'o1', healthTimeoutMs: 6000 });
    expect(res.ok).toBe(false);
    expect(res.stoppedAtBatch).toBe(1);
    expect(res.hosts[0]!.status).toBe('rolled_back');
    expect(res.hosts[0]!.error).toMatch(/feeder feeder-host1: .* after 6 s \(expected version o1\)/);
    expect(fs.readlinkSync(path.join(host.baseDir, 'current'))).toBe('releases/g1');
    // the rollback itself waited for a new, stable g1 process
    const hb = await beat();
    expect(hb).toMatchObject({ version: 'g1' });
    expect(hb!.seq).toBeGreaterThanOrEqual(3);
  }, 90_000);

  it('redeploying the same version does not pass on the old process heartbeat', async () => {
    const old = (await beat())!;
    expect(old.version).toBe('g1');
    const res = await deploy({ ...base(), bundleDir: bundles.g1crash, version: 'g1', healthTimeoutMs: 4000 });
    expect(res.hosts[0]!.restarted).toEqual(['feeder-host1']);
    expect(res.ok).toBe(false);
    expect(res.hosts[0]!.status).not.toBe('deployed');
    expect(res.hosts[0]!.error).toMatch(/feeder feeder-host1: .* after 4 s \(expected version g1\)/);
    // a good release afterwards deploys and is healthy again
    const g2 = await deploy({ ...base(), bundleDir: bundles.g2, version: 'g2' });
    expect(g2.hosts.map((h) => [h.status, h.error])).toEqual([['deployed', undefined]]);
    await waitFor(async () => (await beat())?.version === 'g2', 10_000, 'g2 beating');
  }, 120_000);
});
