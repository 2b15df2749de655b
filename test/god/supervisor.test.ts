// The local supervisor's restart policy against real child processes: exponential backoff on a crash loop,
// backoff reset after a stable period, SIGKILL after the stop timeout, output captured; a real endpoint role
// SIGKILLed comes back as a new process that beats (its dead predecessor's heartbeat does not count).
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EventBus, type GodEvent } from '../../god/core/events.ts';
import { markChange } from '../../god/core/liveness.ts';
import { connectFleetRedis } from '../../god/core/redis.ts';
import { waitHealthy } from '../../god/core/status.ts';
import { backoffDelay, type RestartPolicy, SupervisedProcess } from '../../god/core/supervisor.ts';
import { makeTempDir, pidAlive, useRedis, waitFor } from '../harness/index.ts';

const live: SupervisedProcess[] = [];
afterEach(async () => {
  await Promise.all(live.splice(0).map((p) => p.stop()));
});

function supervise(script: string, policy: Partial<RestartPolicy>, logFile?: string) {
  const bus = new EventBus();
  const events: GodEvent[] = [];
  bus.on((e) => events.push(e));
  const p = new SupervisedProcess(
    { id: 'fixture-1', role: 'feeder', command: process.execPath, args: ['-e', script], env: {}, logFile },
    { backoffMinMs: 100, backoffMaxMs: 400, stableMs: 10_000, stopTimeoutMs: 2000, ...policy },
    bus,
  );
  live.push(p);
  return { p, events };
}

const delays = (events: GodEvent[]) =>
  events.flatMap((e) =>
    e.type === 'process' && e.action === 'restarting'
      ? [Number(/in (\d+) ms/.exec(e.detail ?? '')?.[1])]
      : [],
  );

describe('supervisor', () => {
  it('computes doubling delays capped at the maximum', () => {
    const p = { backoffMinMs: 500, backoffMaxMs: 30_000 };
    expect([1, 2, 3, 4, 7, 50].map((n) => backoffDelay(n, p))).toEqual([
      500, 1000, 2000, 4000, 30_000, 30_000,
    ]);
  });

  it('restarts a crash loop with exponential backoff, and stop() ends it', async () => {
    const { p, events } = supervise('process.exit(3)', {});
    p.start();
    await waitFor(() => delays(events).length >= 4, 10_000, 'four restarts');
    expect(delays(events).slice(0, 4)).toEqual([100, 200, 400, 400]);
    const exits = events.filter((e) => e.type === 'process' && e.action === 'exited');
    expect(exits[0]).toMatchObject({ code: 3, detail: 'exit code 3' });
    expect(p.restarts).toBeGreaterThanOrEqual(3);
    await p.stop();
    const n = events.length;
    await new Promise((r) => setTimeout(r, 600));
    expect(events.length).toBe(n); // no restart after stop
    expect(p.info().state).toBe('stopped');
  });

  it('starts the backoff over once a process was up for the stable period', async () => {
    const { p, events } = supervise('setTimeout(() => process.exit(1), 400)', { stableMs: 200 });
    p.start();
    await waitFor(() => delays(events).length >= 3, 10_000, 'three restarts');
    expect(delays(events).slice(0, 3)).toEqual([100, 100, 100]);
  });

  it('kills with SIGKILL a process that ignores SIGTERM past the stop timeout, and captures its output', async () => {
    const dir = makeTempDir('god-sup');
    const log = path.join(dir, 'fixture.log');
    const { p } = supervise(
      "process.on('SIGTERM', () => console.log('ignoring SIGTERM')); console.log('hello from the child'); setInterval(() => {}, 1000)",
      { stopTimeoutMs: 300 },
      log,
    );
    p.start();
    const pid = p.pid!;
    await waitFor(() => p.tail().includes('hello from the child'), 10_000, 'child output');
    const t0 = Date.now();
    await p.stop();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    expect(p.info().last_exit?.signal).toBe('SIGKILL');
    expect(pidAlive(pid)).toBe(false);
    expect(fs.readFileSync(log, 'utf8')).toContain('hello from the child\nignoring SIGTERM');
  });

  describe('with a real role', () => {
    const redisServer = useRedis();

    it('a SIGKILLed endpoint is restarted: a new, live pid beats again', async () => {
      const fr = await connectFleetRedis(redisServer().url, { prefix: 'sup:' });
      const bus = new EventBus();
      const p = new SupervisedProcess(
        {
          id: 'endpoint-1',
          role: 'endpoint',
          command: process.execPath,
          args: [
            path.resolve('bin/endpoint.mjs'),
            '--id',
            'endpoint-1',
            '--host',
            '127.0.0.1',
            '--port',
            '0',
          ],
          env: { FG_REDIS_URL: redisServer().url, FG_PREFIX: 'sup:', FG_LOG_LEVEL: 'warn' },
        },
        // the local provider's defaults are of this order (backoff from 500 ms)
        { backoffMinMs: 200, backoffMaxMs: 2000, stableMs: 10_000, stopTimeoutMs: 5000 },
        bus,
      );
      live.push(p);
      const proc = [{ role: 'endpoint' as const, id: 'endpoint-1', host: '127.0.0.1' }];
      try {
        p.start();
        const first = await waitHealthy(fr, proc, { timeoutMs: 25_000 });
        const old = p.pid!;
        expect(first.processes[0]!.pid).toBe(old);
        const mark = await markChange(fr.redis, fr.keys, proc);
        process.kill(old, 'SIGKILL');
        await waitFor(() => !pidAlive(old), 5000, 'the endpoint to die');
        // its heartbeat stays behind (no graceful stop deleted it)
        expect(await fr.redis.exists(fr.keys.heartbeat('endpoint', 'endpoint-1'))).toBe(1);
        const r = await waitHealthy(fr, proc, { timeoutMs: 25_000, since: mark, mode: 'new' });
        const pid = r.processes[0]!.pid!;
        expect(pid).not.toBe(old);
        expect(pid).toBe(p.pid);
        expect(pidAlive(pid)).toBe(true);
        expect(p.restarts).toBe(1);
      } finally {
        await p.stop();
        fr.close();
      }
    }, 60_000);
  });
});
