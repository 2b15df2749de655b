// The playbook `shed: {endpoint: busiest}` step judges the endpoints on records written after it started: a
// record's client count is as of the endpoint's last beat, so clients connected just before (an earlier step's)
// can be missing from it. Real Redis; the endpoints are registry records and control-channel subscribers.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { nullSink } from '../../god/core/events.ts';
import type { PlayContext } from '../../god/core/playbook/context.ts';
import type { Step } from '../../god/core/playbook/schema.ts';
import { runStep } from '../../god/core/playbook/steps.ts';
import type { FleetRedis } from '../../god/core/redis.ts';
import { type EndpointRecord, redisContract } from '../../protocol/redis-contract.ts';
import { queueEndpointRecord } from '../../protocol/redis-writes.ts';
import { startRedis } from '../harness/index.ts';

const keys = redisContract('fg:');
let srv: Awaited<ReturnType<typeof startRedis>>;
let redis: Redis;
let sub: Redis;

beforeAll(async () => {
  srv = await startRedis();
  redis = new Redis(srv.url);
  sub = new Redis(srv.url);
});
afterAll(async () => {
  redis?.disconnect();
  sub?.disconnect();
  await srv?.stop();
});

async function beat(id: string, clients: number, port: number): Promise<void> {
  const rec: EndpointRecord = {
    id,
    host: '127.0.0.1',
    port,
    tls: false,
    clients,
    capacity: 1000,
    soft_limit: 800,
    draining: false,
    at: new Date().toISOString(),
  };
  const p = redis.multi();
  queueEndpointRecord(p, keys, rec);
  await p.exec();
}

it('shed busiest waits for a fresh beat of every endpoint before choosing', async () => {
  // As the registry stands: endpoint-1 beat before its clients came (0), endpoint-2 after (3).
  await beat('endpoint-1', 0, 7001);
  await beat('endpoint-2', 3, 7002);
  const got: string[] = [];
  await sub.subscribe(keys.control('endpoint', 'endpoint-1'), keys.control('endpoint', 'endpoint-2'));
  sub.on('message', (ch: string) => got.push(ch));

  const fr = { url: srv.url, redis, keys, duplicate: () => redis.duplicate(), close() {} } as FleetRedis;
  const pc = {
    events: nullSink,
    dryRun: false,
    env: {},
    cwd: process.cwd(),
    startedAt: Date.now(),
    redis: async () => fr,
    tryRedis: async () => fr,
    clients: new Map(),
  } as unknown as PlayContext;
  const step: Step = {
    index: 1,
    name: 'shed',
    continue_on_error: false,
    kind: 'shed',
    args: { endpoint: 'busiest', clients: 3 },
  };
  const run = runStep(pc, step);
  // the next beats: endpoint-1 now counts its 9 clients
  await new Promise((r) => setTimeout(r, 300));
  await beat('endpoint-2', 3, 7002);
  await new Promise((r) => setTimeout(r, 300));
  await beat('endpoint-1', 9, 7001);

  const out = await run;
  expect(out.changes).toEqual(['asked endpoint-1 to shed 3 client(s)']);
  await new Promise((r) => setTimeout(r, 100));
  expect(got).toEqual([keys.control('endpoint', 'endpoint-1')]);
}, 30_000);
