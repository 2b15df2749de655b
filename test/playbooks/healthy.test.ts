// The playbook's `healthy` and `endpoints` checks against real endpoint role processes and a real Redis, when a
// SIGKILLed process leaves its heartbeat and registry record behind: `healthy` counts only processes that beat
// after the check began (a new pid once the process is back), and registry records are aged on Redis's clock.
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listEndpoints } from '../../god/core/endpoints.ts';
import { nullSink } from '../../god/core/events.ts';
import type { PlayContext } from '../../god/core/playbook/context.ts';
import { ConditionsSchema, type Step } from '../../god/core/playbook/schema.ts';
import { runStep } from '../../god/core/playbook/steps.ts';
import type { ExpectedProcess, Provider } from '../../god/core/providers/types.ts';
import { connectFleetRedis, type FleetRedis } from '../../god/core/redis.ts';
import { ENDPOINT_TTL_S, type EndpointRecord } from '../../protocol/redis-contract.ts';
import { killTracked, pidAlive, spawnTracked, useRedis, waitFor, waitForExit } from '../harness/index.ts';

const PREFIX = 'pbh:';
const EXPECTED: ExpectedProcess[] = [
  { role: 'endpoint', id: 'endpoint-1', host: '127.0.0.1' },
  { role: 'endpoint', id: 'endpoint-2', host: '127.0.0.1' },
];

describe('playbook healthy / endpoints with a dead process left behind', () => {
  const redisServer = useRedis();
  let fr: FleetRedis;
  let pc: PlayContext;
  const procs = new Map<string, ChildProcess>();

  const spawnEndpoint = (id: string) => {
    const child = spawnTracked(
      process.execPath,
      [path.resolve('bin/endpoint.mjs'), '--id', id, '--host', '127.0.0.1', '--port', '0'],
      {
        name: id,
        env: { ...process.env, FG_REDIS_URL: redisServer().url, FG_PREFIX: PREFIX, FG_LOG_LEVEL: 'warn' },
      },
    );
    procs.set(id, child);
    return child;
  };
  /** a wait/assert step as the playbook loader makes it (defaults applied by the schema) */
  const step = (kind: 'wait' | 'assert', input: unknown, timeout?: string): Step =>
    ({
      index: 1,
      name: kind,
      continue_on_error: false,
      kind,
      args: ConditionsSchema.parse(input),
      timeout,
    }) as Step;

  beforeAll(async () => {
    fr = await connectFleetRedis(redisServer().url, { prefix: PREFIX });
    const provider = {
      kind: 'ssh',
      machines: async () => [],
      expected: async () => EXPECTED,
    } as unknown as Provider;
    pc = {
      provider,
      events: nullSink,
      dryRun: false,
      env: {},
      cwd: process.cwd(),
      startedAt: Date.now(),
      redis: async () => fr,
      tryRedis: async () => fr,
      clients: new Map(),
    } as unknown as PlayContext;
  });
  afterAll(async () => {
    for (const c of procs.values()) await killTracked(c);
    fr?.close();
  });

  it('healthy does not pass on a killed endpoint until a new process of it beats', async () => {
    spawnEndpoint('endpoint-1');
    spawnEndpoint('endpoint-2');
    const up = await runStep(pc, step('wait', { healthy: { role: 'endpoint' } }, '30s'));
    expect(up.detail).toMatch(/endpoint: 2 up of 2 expected/);

    const old = procs.get('endpoint-1')!;
    const oldPid = old.pid!;
    old.kill('SIGKILL');
    expect(await waitForExit(old, 5000)).toBe(true);
    // what it left: a heartbeat that looks fresh, stable and of the right version
    expect(await fr.redis.exists(fr.keys.heartbeat('endpoint', 'endpoint-1'))).toBe(1);

    await expect(runStep(pc, step('assert', { healthy: { role: 'endpoint' } }))).rejects.toThrow(
      new RegExp(`1 up of 2 expected; not: endpoint-1 old \\(pid ${oldPid} has not beaten since`),
    );
    await expect(
      runStep(pc, step('assert', { healthy: { role: 'endpoint', count: 1 } })),
    ).resolves.toMatchObject({ changed: false });
    await expect(runStep(pc, step('wait', { healthy: { role: 'endpoint' } }, '1s'))).rejects.toThrow(
      /still not true after 1 s: healthy: endpoint: 1 up of 2/,
    );

    // the supervisor's part, by hand: a new endpoint-1
    const fresh = spawnEndpoint('endpoint-1');
    const back = await runStep(pc, step('wait', { healthy: { role: 'endpoint' } }, '30s'));
    expect(back.detail).toMatch(/endpoint: 2 up of 2 expected/);
    const hb = JSON.parse((await fr.redis.get(fr.keys.heartbeat('endpoint', 'endpoint-1')))!);
    expect(hb.pid).toBe(fresh.pid);
    expect(hb.pid).not.toBe(oldPid);
    expect(pidAlive(hb.pid)).toBe(true);
  }, 90_000);

  it("endpoint records are aged on Redis's clock: a stale record with a fresh `at` is not healthy", async () => {
    await waitFor(
      async () => (await listEndpoints(fr)).endpoints.length === 2,
      10_000,
      'two endpoint records',
    );
    const rec: EndpointRecord = {
      id: 'endpoint-9',
      host: '127.0.0.1',
      port: 1,
      tls: false,
      clients: 0,
      capacity: 10,
      soft_limit: 8,
      draining: false,
      at: new Date().toISOString(),
    };
    // written 5.5 s ago (Redis's clock), though its host's clock says now
    await fr.redis.set(fr.keys.endpoint(rec.id), JSON.stringify(rec), 'PX', ENDPOINT_TTL_S * 1000 - 5500);
    await fr.redis.zadd(fr.keys.endpointIndex, Date.now(), rec.id);
    const rep = await listEndpoints(fr);
    const by = Object.fromEntries(rep.endpoints.map((e) => [e.id, e]));
    expect(by['endpoint-9']).toMatchObject({ healthy: false });
    expect(by['endpoint-9']!.age_s).toBeGreaterThanOrEqual(5.4);
    expect(by['endpoint-1']).toMatchObject({ healthy: true });
    const ok = await runStep(pc, step('assert', { endpoints: { healthy: 2 } }));
    expect(ok.detail).toMatch(/^2 healthy endpoint\(s\)/);
  }, 30_000);
});
