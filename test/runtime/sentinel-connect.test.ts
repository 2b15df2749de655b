// Every kind of connection follows a Sentinel failover (real primary, replica and three redis-sentinels on
// loopback): the roles' ioredis clients, the shared subscriber, the feeder's raw RESP publisher and God's
// connection. And the deployment's problems are named: an unknown master, no sentinel answering, a Cluster.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectFleetRedis } from '../../god/core/redis.ts';
import { redisContract } from '../../protocol/redis-contract.ts';
import { Publisher } from '../../roles/feeder/publisher.ts';
import { RespConnection } from '../../roles/feeder/resp.ts';
import { checkDeployment, connectRedis } from '../../roles/runtime/redis.ts';
import { Subscriber } from '../../roles/runtime/subscriber.ts';
import {
  cleanupAll,
  freePort,
  type SentinelSet,
  sentinelAvailable,
  skipWithout,
  startSentinelSet,
  waitFor,
} from '../harness/index.ts';

afterAll(async () => {
  await cleanupAll();
});

describe.skipIf(
  skipWithout(
    { 'redis-sentinel': sentinelAvailable() },
    'node scripts/bootstrap.mjs test (apt-get install -y redis-sentinel)',
  ),
)('Sentinel', () => {
  let set: SentinelSet;
  beforeAll(async () => {
    set = await startSentinelSet();
  }, 60_000);
  afterAll(async () => {
    await set?.stop();
  });

  it('names the problem: an unknown master, no sentinel answering, a Cluster', async () => {
    const wrong = set.url.replace(`/${set.masterName}`, '/nosuchmaster');
    const cfg = { redisTlsCa: undefined, redisTlsInsecure: false };
    await expect(checkDeployment({ ...cfg, redis: wrong }, () => {})).rejects.toMatchObject({
      code: 'FG_REDIS',
      message: expect.stringMatching(/no sentinel knows a master named "nosuchmaster" \(3 of 3 answered/),
    });
    await expect(connectFleetRedis(wrong, { prefix: 't:' })).rejects.toMatchObject({
      code: 'GOD_REDIS',
      message: expect.stringContaining('no sentinel knows a master named "nosuchmaster"'),
    });
    // nothing listens on these ports: every sentinel is named with its error
    const [a, b] = [await freePort(), await freePort()];
    const down = `redis+sentinel://127.0.0.1:${a},127.0.0.1:${b}/${set.masterName}`;
    const said: string[] = [];
    await checkDeployment({ ...cfg, redis: down }, (m) => said.push(m));
    expect(said.join('\n')).toMatch(
      new RegExp(
        `no sentinel of master "${set.masterName}" answered \\(127\\.0\\.0\\.1:${a}: .*ECONNREFUSED.*; 127\\.0\\.0\\.1:${b}: `,
      ),
    );
    await expect(connectFleetRedis(down, { prefix: 't:' })).rejects.toMatchObject({
      code: 'GOD_REDIS',
      message: expect.stringContaining(`no sentinel of master "${set.masterName}" answered`),
    });
    await expect(
      checkDeployment({ ...cfg, redis: 'redis+cluster://127.0.0.1:7000,127.0.0.1:7001' }, () => {}),
    ).rejects.toMatchObject({
      code: 'FG_REDIS',
      message: expect.stringContaining('Redis Cluster is not supported yet'),
    });
  });

  it('commands, the subscriber, the RESP publisher and God reconnect to the promoted replica', async () => {
    const keys = redisContract('fo:');
    const cmd = connectRedis(set.url, { name: 'fo-cmd' });
    const sub = new Subscriber(connectRedis(set.url, { name: 'fo-sub' }));
    const resp = new RespConnection(set.url, { name: 'fo-resp' });
    const publisher = new Publisher({ resp, keys, maxBuffer: 10_000, batch: 50 });
    const god = await connectFleetRedis(set.url, { prefix: 'fo:', name: 'fo-god' });
    const got: string[] = [];
    sub.on(keys.movieChannel(1), (m) => got.push(m.toString()));
    let n = 0;
    const publish = () =>
      publisher.enqueue(
        [1],
        {
          id: `t${++n}`,
          text: `tweet ${n}`,
          created_at: '2013-10-04T18:30:00.000Z',
          user: { name: 'a', screen_name: 'a' },
        },
        1,
        performance.now(),
      );
    try {
      await waitFor(
        () => cmd.status === 'ready' && resp.status === 'ready' && sub.redis.status === 'ready',
        10_000,
        'connections',
      );
      await waitFor(
        () => {
          publish();
          return got.length > 0;
        },
        5000,
        'a tweet through the first master',
      );
      await cmd.set('fo:before', '1');
      const old = await set.killMaster();
      const promoted = await set.waitPromoted(old);
      expect(promoted).not.toBe(old);
      // every client writes to the new master; the subscriber hears what the RESP publisher sends there
      await waitFor(
        async () =>
          await cmd.set('fo:after', '2').then(
            () => true,
            () => false,
          ),
        15_000,
        'SET after failover',
      );
      const seen = got.length;
      await waitFor(
        () => {
          publish();
          return got.length > seen;
        },
        15_000,
        'a tweet through the promoted master',
        { intervalMs: 100 },
      );
      await waitFor(
        async () =>
          await god.redis.set('fo:god', '3').then(
            () => true,
            () => false,
          ),
        15_000,
        'God after failover',
      );
      const direct = new Redis({ host: '127.0.0.1', port: promoted });
      try {
        expect(await direct.get('fo:after')).toBe('2');
        expect(await direct.get('fo:god')).toBe('3');
        expect(Number(await direct.xlen(keys.movieHistory(1)))).toBeGreaterThan(0);
      } finally {
        direct.disconnect();
      }
    } finally {
      publisher.close();
      resp.close();
      await sub.close();
      cmd.disconnect();
      god.close();
    }
  }, 60_000);
});
