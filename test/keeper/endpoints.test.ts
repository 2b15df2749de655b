// endpoints.json follows the endpoint registry: written to S3 (moto) and Redis when endpoints come and go,
// and refreshed at least every --endpoints-interval.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EndpointList, parseEndpointList } from '../../protocol/endpoint-list.ts';
import { type EndpointRecord, redisContract } from '../../protocol/redis-contract.ts';
import { queueEndpointRecord } from '../../protocol/redis-writes.ts';
import {
  makeTempDir,
  type Moto,
  type RedisServer,
  startMoto,
  startRedis,
  waitFor,
} from '../harness/index.ts';
import { createBucket, getObject, type InProcessKeeper, s3Client, startKeeper } from './helpers.ts';

let redis: RedisServer;
let moto: Moto;
let client: Redis;
let k: InProcessKeeper | undefined;
const BUCKET = 'fg-endpoints';
const keys = redisContract('ep:');

beforeAll(async () => {
  [redis, moto] = await Promise.all([startRedis(), startMoto()]);
  client = new Redis(redis.url, { maxRetriesPerRequest: null });
  Object.assign(process.env, moto.env);
  await createBucket(moto, BUCKET);
});
afterAll(async () => {
  await k?.stop().catch(() => {});
  client?.disconnect();
  await Promise.all([redis?.stop(), moto?.stop()]);
});

function record(id: string, host: string, port: number, over: Partial<EndpointRecord> = {}): EndpointRecord {
  return {
    id,
    host,
    port,
    tls: false,
    clients: 10,
    capacity: 1000,
    soft_limit: 800,
    draining: false,
    at: new Date().toISOString(),
    ...over,
  };
}

describe('keeper endpoint list', () => {
  it('endpoints.json follows endpoints coming, draining and going', async () => {
    const s3 = s3Client(moto);
    const live = new Map<string, EndpointRecord>();
    const register = async () => {
      const p = client.multi();
      for (const r of live.values()) queueEndpointRecord(p, keys, { ...r, at: new Date().toISOString() });
      await p.exec();
    };
    // endpoints refresh their record like the real ones do (the key has a TTL)
    const refresher = setInterval(() => void register(), 1000);
    const readS3 = async (): Promise<EndpointList> =>
      parseEndpointList((await getObject(s3, BUCKET, 'fleet/endpoints.json')).toString());
    const addrs = (l: EndpointList) => l.endpoints.map((e) => `${e.host}:${e.port}`);
    try {
      k = await startKeeper([
        '--redis',
        redis.url,
        '--prefix',
        'ep:',
        '--id',
        'k-ep',
        '--archive',
        `s3://${BUCKET}/fleet`,
        '--endpoints-interval',
        '1500ms',
        '--spool-dir',
        makeTempDir('spool-ep'),
      ]);
      await waitFor(async () => (await readS3()).endpoints.length === 0, 15_000, 'an empty list at first');

      live.set('e1', record('e1', '10.0.0.1', 7070, { clients: 5, capacity: 500 }));
      live.set('e2', record('e2', '10.0.0.2', 7443, { tls: true }));
      await register();
      await waitFor(async () => addrs(await readS3()).length === 2, 10_000, 'two endpoints');
      const two = await readS3();
      expect(two.endpoints).toEqual([
        { host: '10.0.0.1', port: 7070, tls: false, clients: 5, capacity: 500 },
        { host: '10.0.0.2', port: 7443, tls: true, clients: 10, capacity: 1000 },
      ]);
      // the same list in Redis, for God
      expect(parseEndpointList((await client.get(keys.endpointList))!).endpoints).toEqual(two.endpoints);

      // draining: off the list
      live.set('e2', { ...live.get('e2')!, draining: true });
      await register();
      await waitFor(async () => addrs(await readS3()).join() === '10.0.0.1:7070', 10_000, 'e2 drained away');

      // gone: its key removed (a stopped endpoint) → off the list
      live.delete('e1');
      await client.del(keys.endpoint('e1'));
      await waitFor(async () => addrs(await readS3()).length === 0, 10_000, 'e1 gone');

      // no change: still rewritten every --endpoints-interval
      const t0 = Date.parse((await readS3()).updated_at);
      await waitFor(async () => Date.parse((await readS3()).updated_at) > t0, 10_000, 'periodic rewrite');
    } finally {
      clearInterval(refresher);
      s3.destroy();
    }
  }, 60_000);
});
