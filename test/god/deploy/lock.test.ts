// The deploy lock on a real Redis: exclusive, renewed while held, names its holder, released only by its owner.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeployLock } from '../../../god/core/deploy/lock.ts';
import { redisContract } from '../../../protocol/redis-contract.ts';
import { sleep, useRedis } from '../../harness/index.ts';

const keys = redisContract('lk:');

describe('deploy lock', () => {
  const getRedis = useRedis();
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(getRedis().url);
  });
  afterAll(() => redis?.disconnect());

  it('is exclusive, renewed past its TTL, and names who holds it', async () => {
    const a = await DeployLock.acquire(redis, keys, { owner: 'alice@box', what: 'deploy 1.2', ttlMs: 1500 });
    await sleep(3000); // well past the TTL: renewals keep it
    await expect(
      DeployLock.acquire(redis, keys, { owner: 'bob@laptop', what: 'deploy 1.3' }),
    ).rejects.toMatchObject({
      code: 'GOD_DEPLOY_LOCKED',
      message: expect.stringMatching(/alice@box \(deploy 1\.2\) since .* expires in [12] s unless renewed/),
    });
    expect(a.lost).toBe(false);
    await a.release();
    const b = await DeployLock.acquire(redis, keys, { owner: 'bob@laptop', what: 'deploy 1.3', ttlMs: 5000 });
    // a stale owner's release does not remove someone else's lock
    await a.release();
    expect(JSON.parse((await redis.get(keys.deployLock))!).owner).toBe('bob@laptop');
    // a lock broken by hand is noticed at the next renewal
    await redis.del(keys.deployLock);
    await redis.set(keys.deployLock, 'someone else');
    expect(await b.renew()).toBe(false);
    expect(b.lost).toBe(true);
    await b.release();
    expect(await redis.get(keys.deployLock)).toBe('someone else');
    await redis.del(keys.deployLock);
  });
});
