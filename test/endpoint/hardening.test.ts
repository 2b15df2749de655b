// The client port under attack and under a Redis outage: floods of 64 KiB lines (rate limit before parsing),
// many connections from one address, slowloris, a slow consumer that learns why, unknown movie ids and
// start_feed while Redis is down, and the registry record rewritten as soon as Redis is back.
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { redisContract } from '../../protocol/redis-contract.ts';
import { CLOSE_GRACE_MS, type Conn } from '../../roles/endpoint/conn.ts';
import { startRedis } from '../harness/index.ts';
import {
  freshPrefix,
  LineClient,
  MOVIES,
  Publisher,
  type StartedEndpoint,
  sleep,
  startEndpoint,
  suiteRedis,
} from './helpers.ts';

const suite = suiteRedis();
const { cleanups } = suite;

async function setup(
  tag: string,
  args: string[],
  url?: string,
): Promise<{ ep: StartedEndpoint; pub: Publisher; prefix: string }> {
  const prefix = freshPrefix(tag);
  const pub = new Publisher(url ?? suite.redis.url, prefix);
  await pub.catalog(MOVIES);
  const ep = await startEndpoint(url ?? suite.redis.url, prefix, args);
  cleanups.push(
    () => ep.stop(),
    () => pub.close(),
  );
  return { ep, pub, prefix };
}

async function client(port: number, opts?: Parameters<typeof LineClient.connect>[1]): Promise<LineClient> {
  const c = await LineClient.connect(port, opts);
  cleanups.push(() => c.close());
  return c;
}

/** The server side of a client connection. */
function connOf(ep: StartedEndpoint, c: LineClient): Conn {
  const conn = [...ep.instance.server.clients].find((x) => x.socket.remotePort === c.socket.localPort);
  if (!conn) throw new Error('no server connection for this client');
  return conn;
}

describe('hardening of the client port', () => {
  it('floods of 64 KiB lines are dropped unparsed and closed with rate_limited; a canary keeps being answered', async () => {
    const rate = 2;
    const burst = 40;
    const { ep } = await setup('flood', ['--rate-limit', String(rate), '--rate-burst', String(burst)]);
    const canary = await client(ep.port);
    canary.hello();
    await canary.next('set_movies');
    // a valid message just under the line limit: the most expensive thing to parse
    const big = `{"action":"ping","params":{"id":"${'a'.repeat(64 * 1024 - 64)}"}}\n`;
    const flooders = await Promise.all([client(ep.port), client(ep.port)]);
    for (const f of flooders) f.hello();
    await Promise.all(flooders.map((f) => f.next('set_movies')));
    const conns = flooders.map((f) => connOf(ep, f));
    const startedAt = Date.now();
    const sent = [0, 0];
    const flood = flooders.map(async (f, i) => {
      while (!f.closed && sent[i]! < 2000) {
        sent[i]!++;
        if (!f.socket.write(big)) await Promise.race([once(f.socket, 'drain'), f.closedPromise]);
      }
    });
    const pongs: number[] = [];
    for (let i = 0; i < 30; i++) {
      const from = canary.messages.length;
      canary.send({ action: 'ping', params: { id: i } });
      const p = await canary.next('pong', from, 10_000);
      pongs.push(p.params.id as number);
    }
    await Promise.all(flood);
    const elapsedS = (Date.now() - startedAt) / 1000;
    for (const f of flooders) {
      await f.error('rate_limited');
      await f.waitClosed();
    }
    // each flooder got what its bucket allows (one token per 4 KiB), no more: the rest was never parsed
    const allowed = 1 + Math.ceil((burst + rate * elapsedS) / 16);
    for (const [i, c] of conns.entries()) {
      expect(c.parsed, `flooder ${i} lines parsed`).toBeLessThanOrEqual(allowed);
      expect(sent[i], `flooder ${i} lines sent`).toBeGreaterThan(c.parsed * 5);
    }
    expect(ep.instance.server.gauges().rate_closed).toBe(2);
    // the canary: every ping answered, never limited, still connected
    expect(pongs).toEqual(Array.from({ length: 30 }, (_, i) => i));
    expect(canary.messages.some((m) => m.action === 'error')).toBe(false);
    expect(canary.closed).toBe(false);
  }, 60_000);

  it('too_many_connections beyond --max-per-ip; other addresses and freed slots still get in', async () => {
    const { ep } = await setup('perip', ['--max-per-ip', '3']);
    const cs = await Promise.all([client(ep.port), client(ep.port), client(ep.port)]);
    for (const c of cs) c.hello();
    await Promise.all(cs.map((c) => c.next('set_movies')));
    const refused = await client(ep.port);
    const e = await refused.error('too_many_connections');
    expect(e.params.message).toMatch(/3 connections/);
    await refused.waitClosed();
    expect(ep.instance.server.gauges().per_ip_refused).toBe(1);
    // another address is not affected
    const other = await client(ep.port, { localAddress: '127.0.0.2' });
    other.hello();
    await other.next('set_movies');
    // a freed slot is usable again
    cs[0]!.close();
    await expect.poll(() => ep.instance.server.clients.size).toBe(3);
    const again = await client(ep.port);
    again.hello();
    await again.next('set_movies');
    expect(cs.slice(1).every((c) => !c.closed)).toBe(true);
  });

  it('slowloris: connect is due within --connect-timeout, and only complete lines keep a client alive', async () => {
    const { ep } = await setup('loris', ['--connect-timeout', '400ms', '--idle-timeout', '800ms']);
    const noConnect = await client(ep.port);
    const dripper = await client(ep.port);
    dripper.hello();
    await dripper.next('set_movies');
    const good = await client(ep.port);
    good.hello();
    await good.next('set_movies');
    // one byte every 50 ms, never a newline
    const drip = setInterval(() => {
      if (!noConnect.closed) noConnect.send('{');
      if (!dripper.closed) dripper.send(' ');
      good.send({ action: 'ping' });
    }, 50);
    try {
      expect((await noConnect.error('connect_timeout', 0, 10_000)).params.message).toMatch(/connect/);
      await noConnect.waitClosed();
      await dripper.error('idle_timeout', 0, 10_000);
      await dripper.waitClosed();
    } finally {
      clearInterval(drip);
    }
    expect(good.closed).toBe(false);
    const g = ep.instance.server.gauges();
    expect(g.connect_timeouts).toBe(1);
    expect(g.idle_closed).toBe(1);
  }, 30_000);

  it('slow_consumer: a client that stops reading and reads again later receives the error, then the close', async () => {
    const { ep, pub } = await setup('slowread', ['--max-queue', '65536']);
    const c = await client(ep.port);
    c.hello();
    await c.next('set_movies');
    c.send({ action: 'start_feed', params: { movie_id: 1 } });
    c.send({ action: 'ping', params: { id: 'fed' } });
    await c.until((m) => m.some((x) => x.action === 'pong' && x.params.id === 'fed'));
    c.socket.pause();
    const text = 'x'.repeat(4000);
    for (let i = 0; i < 2000 && ep.instance.server.gauges().slow_consumers === 0; i++) {
      await pub.publish(
        1,
        Array.from({ length: 20 }, () => pub.tweet(text)),
      );
    }
    expect(ep.instance.server.gauges().slow_consumers).toBe(1);
    // longer than the grace a closing connection gets: the error must still be there to read
    await sleep(CLOSE_GRACE_MS + 1000);
    c.socket.resume();
    const e = await c.error('slow_consumer', 0, 10_000);
    expect(e.params.message).toMatch(/65536 bytes/);
    await c.waitClosed(10_000);
    // the error is the last line the client got
    expect(c.messages.at(-1)).toMatchObject({ action: 'error', params: { code: 'slow_consumer' } });
  }, 60_000);

  it('Redis down: unknown movies answered from the catalog copy, start_feed gets unavailable, nothing piles up', async () => {
    const own = await startRedis();
    cleanups.push(() => own.stop());
    const { ep } = await setup('outage', ['--rate-burst', '1000'], own.url);
    const c = await client(ep.port);
    c.hello();
    await c.next('set_movies');
    await own.kill();
    const redis = ep.handle.ctx.redis;
    await expect.poll(() => redis.status, { timeout: 10_000 }).not.toBe('ready');
    const from = c.messages.length;
    for (let i = 0; i < 300; i++) c.send({ action: 'start_feed', params: { movie_id: 1000 + i } });
    await c.until(
      (m) =>
        m.slice(from).filter((x) => x.action === 'error' && x.params.code === 'unknown_movie').length === 300,
      10_000,
      '300 unknown_movie',
    );
    const at = c.messages.length;
    c.send({ action: 'start_feed', params: { movie_id: 1 } });
    const e = await c.error('unavailable', at);
    expect(e.params.action).toBe('start_feed');
    // no command per request waits for Redis (the runtime's own beats and logs may)
    const queued = (r: unknown) => (r as { offlineQueue: { length: number } }).offlineQueue.length;
    expect(queued(redis)).toBeLessThan(50);
    expect(c.closed).toBe(false);

    // back: the same connection gets its feed
    await own.start();
    const pub = new Publisher(own.url, ep.handle.ctx.keys.prefix);
    cleanups.push(() => pub.close());
    await pub.catalog(MOVIES);
    await expect
      .poll(
        async () => {
          const n = c.messages.length;
          c.send({ action: 'start_feed', params: { movie_id: 2 } });
          c.send({ action: 'ping', params: { id: `back-${n}` } });
          await c.until((m) => m.some((x) => x.action === 'pong' && x.params.id === `back-${n}`));
          return c.messages.slice(n).some((x) => x.action === 'error');
        },
        { timeout: 15_000, interval: 200 },
      )
      .toBe(false);
  }, 60_000);

  it('the registry record is rewritten as soon as Redis is ready again after a restart', async () => {
    const own = await startRedis();
    cleanups.push(() => own.stop());
    const { ep, prefix } = await setup('reg', [], own.url);
    const keys = redisContract(prefix);
    const redis = ep.handle.ctx.redis;
    const reg = ep.instance.server.registry;
    let writesAtReady: number | undefined;
    let writesWhenDown: number | undefined;
    redis.on('end', () => (writesWhenDown ??= reg.writes));
    redis.on('close', () => (writesWhenDown ??= reg.writes));
    await own.kill(); // loses every key: nothing was saved
    await expect.poll(() => writesWhenDown, { timeout: 10_000 }).toBeDefined();
    // registered after the endpoint's own listener, so this runs right after it
    const ready = new Promise<void>((r) =>
      redis.once('ready', () => {
        writesAtReady = reg.writes;
        r();
      }),
    );
    await own.start();
    await ready;
    // the write was issued on 'ready' itself, not at the next beat
    expect(writesAtReady).toBeGreaterThan(writesWhenDown!);
    const check = new Publisher(own.url, prefix);
    cleanups.push(() => check.close());
    await expect.poll(() => check.redis.exists(keys.endpoint(ep.handle.ctx.id)), { timeout: 5000 }).toBe(1);
  }, 60_000);
});
