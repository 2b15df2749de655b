// `god down` of endpoints drains them first (god/core/drain.ts), on a real local fleet: 300 clients on
// endpoint-1 move to endpoint-2 before endpoint-1 is stopped (their `reconnect` says `draining`, not the
// `shutdown` of a plain stop), none is lost, each gets tweets again; the last endpoint is refused without a
// person to ask; --force skips the drain and the question.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FilmgrainClient } from '../../protocol/client/client.ts';
import { drainBeforeDown } from '../../god/core/drain.ts';
import { EndpointsReportSchema } from '../../god/core/endpoints.ts';
import type { GodEvent } from '../../god/core/events.ts';
import { connectFleetRedis } from '../../god/core/redis.ts';
import { readState } from '../../god/core/local/state.ts';
import { OperationResultSchema, PlanResultSchema } from '../../god/core/operations.ts';
import { makeTempDir, pidAlive, waitFor } from '../harness/index.ts';
import { errorOf, godIn, resultOf } from './cli-helpers.ts';

const CLIENTS = 300;

interface Tracked {
  c: FilmgrainClient;
  reasons: string[];
  /** tweets received since the last redirect */
  tweetsSince: number;
}

describe('god down drains endpoints before stopping them (local provider)', () => {
  let dir: string;
  const clients: Tracked[] = [];
  const run = (...args: string[]) => godIn(args, { cwd: dir });
  const pidOf = (id: string) =>
    readState(path.join(dir, '.god/local'))?.processes.find((p) => p.id === id)?.pid;
  const portOf = async (id: string) => {
    const r = resultOf(await run('endpoints', '--json'), 'endpoints', EndpointsReportSchema);
    return r.endpoints.find((e) => e.id === id)?.port;
  };

  const heldBy = async (id: string) =>
    resultOf(await run('endpoints', '--json'), 'endpoints', EndpointsReportSchema).endpoints.find(
      (e) => e.id === id,
    )?.clients;

  /** n clients on `port`, each watching movie 1 (the only movie, so every tweet reaches all of them) */
  async function connect(port: number, n: number): Promise<Tracked[]> {
    const out: Tracked[] = [];
    for (let i = 0; i < n; i++) {
      const c = new FilmgrainClient({
        endpoints: [{ host: '127.0.0.1', port, tls: false }],
        app: 'drain-test',
        version: '1.0.0',
      });
      const t: Tracked = { c, reasons: [], tweetsSince: 0 };
      c.on('redirect', (r) => {
        t.reasons.push(r.reason ?? '');
        t.tweetsSince = 0;
      });
      c.on('post_tweet', () => t.tweetsSince++);
      c.startFeed(1);
      out.push(t);
      clients.push(t);
    }
    await Promise.all(out.map((t) => t.c.start()));
    await waitFor(() => out.every((t) => t.tweetsSince > 0), 20_000, `${n} clients to get a tweet`);
    return out;
  }

  beforeAll(async () => {
    dir = makeTempDir('god-drain');
    const catalog = path.join(dir, 'catalog.json');
    fs.writeFileSync(catalog, JSON.stringify([{ id: 1, title: 'Gravity', year: 2013 }]));
    fs.writeFileSync(
      path.join(dir, 'god.config.yaml'),
      `roles:
  feeder:
    count: 1
    options:
      catalog: ${catalog}
      rate: 10
  endpoint:
    count: 2
    options:
      max_per_ip: 1000
  keeper:
    count: 0
local:
  stop_timeout: 8s
`,
    );
    resultOf(await run('up', '--json'), 'up', OperationResultSchema);
  }, 60_000);

  afterAll(async () => {
    for (const t of clients) t.c.close();
    await run('down', '--yes'); // the whole fleet: does not drain
  });

  it(`moves all ${CLIENTS} clients of endpoint-1 to endpoint-2, then stops endpoint-1`, async () => {
    const [p1, p2] = [await portOf('endpoint-1'), await portOf('endpoint-2')];
    expect(p1 && p2).toBeTruthy();
    const pid1 = pidOf('endpoint-1')!;
    const moved = await connect(p1!, CLIENTS);
    await waitFor(async () => (await heldBy('endpoint-1')) === CLIENTS, 10_000, 'the registry to count them');

    const r = await run('down', '--yes', '--id', 'endpoint-1', '--json');
    const data = resultOf(r, 'down', OperationResultSchema);
    expect(data.processes.map((p) => p.id).sort()).toEqual(['endpoint-2', 'feeder-1']);
    expect(pidAlive(pid1)).toBe(false);

    // the drain ran, to its end, before the stop
    const drain = r.lines.filter((l) => l.type === 'host' && l.step === 'drain');
    expect(drain.at(-1)).toMatchObject({
      host: 'endpoint-1',
      phase: 'end',
      ok: true,
      data: { clients: 0, of: CLIENTS },
    });
    expect(drain[0]).toMatchObject({ host: 'endpoint-1', phase: 'start' });
    const steps = r.lines.filter((l) => l.type === 'step' && l.phase === 'end').map((l) => l.step);
    expect(steps).toEqual(['drain', 'down']);

    // every client was sent away by the drain (not by the stop), to endpoint-2, and none is lost
    for (const t of moved) expect(t.reasons).toEqual(['draining']);
    await waitFor(
      () => moved.every((t) => t.c.ready && t.c.endpoint?.port === p2 && t.tweetsSince > 0),
      20_000,
      'every moved client on endpoint-2 with a tweet again',
    );
  }, 60_000);

  it('refuses to take the last endpoint down when no one can be asked', async () => {
    const pid2 = pidOf('endpoint-2')!;
    const r = await run('down', '--yes', '--id', 'endpoint-2', '--json');
    expect(r.code).toBe(1);
    expect(errorOf(r)).toMatchObject({ code: 'GOD_LAST_ENDPOINT' });
    expect(errorOf(r).hint).toContain('--force');
    expect(pidAlive(pid2)).toBe(true);
    expect(r.lines.some((l) => l.type === 'step' && l.step === 'down')).toBe(false);
  });

  it('down endpoint -n 1 takes the one with the fewest clients; --force skips the drain', async () => {
    for (const t of clients.splice(0)) t.c.close(); // the ones moved above
    resultOf(await run('up', 'endpoint', '-n', '3', '--json'), 'up', OperationResultSchema);
    const listed = () =>
      readState(path.join(dir, '.god/local'))!
        .processes.filter((p) => p.role === 'endpoint')
        .map((p) => p.id);
    // the newest listed holds clients: the newest of the empty ones goes instead
    const busy = listed().at(-1)!;
    const idle = listed().slice(0, -1);
    expect(idle).toHaveLength(2);
    for (const id of idle) {
      await waitFor(async () => (await portOf(id)) !== undefined, 10_000, `${id} in the registry`);
    }
    const few = await connect((await portOf(busy))!, 20);
    await waitFor(async () => (await heldBy(busy)) === 20, 10_000, 'the registry to count them');

    const plan = resultOf(
      await run('down', 'endpoint', '-n', '1', '--dry-run', '--json'),
      'down',
      PlanResultSchema,
    );
    expect(plan.changes.map((c) => `${c.action} ${c.subject}`)).toEqual([`stop ${idle[1]}`]);
    const n1 = resultOf(
      await run('down', '--yes', 'endpoint', '-n', '1', '--json'),
      'down',
      OperationResultSchema,
    );
    expect(n1.ids).toEqual([idle[1]]);
    expect(listed()).toEqual([idle[0], busy]);
    expect(few.every((t) => t.reasons.length === 0)).toBe(true);

    const pidBusy = pidOf(busy)!;
    const r = await run('down', '--yes', '--id', busy, '--force', '--json');
    resultOf(r, 'down', OperationResultSchema);
    expect(pidAlive(pidBusy)).toBe(false);
    expect(r.lines.some((l) => l.type === 'host' && l.step === 'drain')).toBe(false);
    await waitFor(() => few.every((t) => t.reasons.length > 0), 10_000, 'the stop to send every client away');
    for (const t of few) expect(t.reasons).toEqual(['shutdown']);

    // and the last endpoint goes with --force, without a question
    const pid = pidOf(idle[0]!)!;
    resultOf(
      await run('down', '--yes', '--id', idle[0]!, '--force', '--json'),
      'down',
      OperationResultSchema,
    );
    expect(pidAlive(pid)).toBe(false);
  }, 60_000);

  it('the wait is bounded: an endpoint that keeps its clients is reported and stopped anyway', async () => {
    const fr = await connectFleetRedis(readState(path.join(dir, '.god/local'))!.redis_url, { prefix: 'fg:' });
    const listener = fr.redis.duplicate();
    try {
      // an endpoint that hears the drain but never lets go of its 5 clients
      const rec = { id: 'endpoint-stuck', host: '127.0.0.1', port: 1, tls: false, clients: 5 };
      await fr.redis.set(
        fr.keys.endpoint('endpoint-stuck'),
        JSON.stringify({
          ...rec,
          capacity: 10,
          soft_limit: 8,
          draining: false,
          at: new Date().toISOString(),
        }),
      );
      await fr.redis.zadd(fr.keys.endpointIndex, Date.now(), 'endpoint-stuck');
      const heard: string[] = [];
      listener.on('message', (_c, m) => heard.push(m));
      await listener.subscribe(fr.keys.control('endpoint', 'endpoint-stuck'));
      const events: GodEvent[] = [];
      const stuck = { role: 'endpoint' as const, id: 'endpoint-stuck', host: 'h' };
      const other = { role: 'endpoint' as const, id: 'endpoint-other', host: 'h' };
      const out = await drainBeforeDown(
        [stuck],
        [stuck, other],
        { redis: async () => fr, timeoutMs: 600, force: false, pollMs: 50 },
        { emit: (e) => events.push(e) },
      );
      expect(out).toEqual({ drained: [], timed_out: ['endpoint-stuck'] });
      expect(heard).toEqual([JSON.stringify({ cmd: 'drain' })]);
      const end = events.filter((e) => e.type === 'host' && e.phase === 'end');
      expect(end).toEqual([
        expect.objectContaining({ host: 'endpoint-stuck', ok: false, data: { clients: 5, of: 5 } }),
      ]);
      // no healthy peer in the registry to take them: said before waiting
      expect(events[0]).toMatchObject({ type: 'warn' });
    } finally {
      await fr.redis.del(fr.keys.endpoint('endpoint-stuck'));
      listener.disconnect();
      await fr.close();
    }
  });

  it('without Redis it cannot drain, and says --force stops without it', async () => {
    const p = { role: 'endpoint' as const, id: 'endpoint-a', host: 'h' };
    const q = { role: 'endpoint' as const, id: 'endpoint-b', host: 'h' };
    const redis = () => Promise.reject(new Error('connection refused'));
    await expect(
      drainBeforeDown([p], [p, q], { redis, timeoutMs: 1000, force: false }, { emit() {} }),
    ).rejects.toMatchObject({ code: 'GOD_UNREACHABLE', hint: expect.stringContaining('--force') });
    // --force: no Redis needed
    expect(
      await drainBeforeDown([p], [p, q], { redis, timeoutMs: 1000, force: true }, { emit() {} }),
    ).toEqual({
      drained: [],
      timed_out: [],
    });
  });
});
