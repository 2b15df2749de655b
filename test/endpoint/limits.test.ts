// Limits of one endpoint: server_full, rate limit, idle timeout, slow consumer, many clients, TLS.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeSelfSignedCert, makeTempDir, waitFor } from '../harness/index.ts';
import {
  freshPrefix,
  suiteRedis,
  LineClient,
  MOVIES,
  Publisher,
  type StartedEndpoint,
  sleep,
  startEndpoint,
} from './helpers.ts';

const suite = suiteRedis();
const { cleanups } = suite;

async function setup(tag: string, args: string[]): Promise<{ ep: StartedEndpoint; pub: Publisher }> {
  const prefix = freshPrefix(tag);
  const pub = new Publisher(suite.redis.url, prefix);
  await pub.catalog(MOVIES);
  const ep = await startEndpoint(suite.redis.url, prefix, args);
  cleanups.push(
    () => ep.stop(),
    () => pub.close(),
  );
  return { ep, pub };
}

async function client(port: number, opts?: Parameters<typeof LineClient.connect>[1]): Promise<LineClient> {
  const c = await LineClient.connect(port, opts);
  cleanups.push(() => c.close());
  return c;
}

describe('limits', () => {
  it('server_full beyond --max-clients, then close', async () => {
    const { ep } = await setup('full', ['--max-clients', '2']);
    const a = await client(ep.port);
    const b = await client(ep.port);
    a.hello();
    b.hello();
    await a.next('set_movies');
    await b.next('set_movies');
    const c = await client(ep.port);
    const e = await c.error('server_full');
    expect(e.params.message).toMatch(/limit of 2/);
    await c.waitClosed();
    expect(ep.instance.server.gauges().rejected).toBe(1);
    // the two others are untouched, and a freed slot is usable again
    a.close();
    await expect.poll(() => ep.instance.server.clients.size).toBe(1);
    const d = await client(ep.port);
    d.hello();
    await d.next('set_movies');
    expect(b.closed).toBe(false);
  });

  it('rate_limited beyond the bucket: messages dropped, connection kept, allowed again after a while', async () => {
    const { ep } = await setup('rate', ['--rate-limit', '5', '--rate-burst', '5']);
    const c = await client(ep.port);
    c.hello(); // uses one token
    await c.next('set_movies');
    for (let i = 0; i < 30; i++) c.send({ action: 'ping', params: { id: i } });
    await c.error('rate_limited');
    // counters, not a sleep: wait until each of the 30 pings is either answered or counted as dropped
    const pongCount = () => c.messages.filter((m) => m.action === 'pong').length;
    const dropped = () => ep.instance.server.gauges().rate_limited;
    await waitFor(() => pongCount() + dropped() >= 30, 10_000, 'every ping answered or dropped');
    const pongs = pongCount();
    expect(pongs + dropped()).toBe(30);
    expect(pongs).toBeGreaterThanOrEqual(4);
    expect(pongs).toBeLessThanOrEqual(6);
    // one notice, not one per dropped message
    expect(c.messages.filter((m) => m.action === 'error').length).toBe(1);
    expect(c.closed).toBe(false);
    // the bucket refills: a ping sent now and then is answered again (no fixed sleep)
    let n = 0;
    await waitFor(
      () => {
        c.send({ action: 'ping', params: { id: `later-${n++}` } });
        return c.messages.some((x) => x.action === 'pong' && String(x.params.id).startsWith('later-'));
      },
      10_000,
      'a pong once the bucket has refilled',
      { intervalMs: 250 },
    );
    expect(ep.instance.server.gauges().rate_limited).toBeGreaterThan(20);
  });

  it('idle_timeout for a silent client; a pinging one stays', async () => {
    const { ep } = await setup('idle', ['--idle-timeout', '400ms']);
    const silent = await client(ep.port);
    const busy = await client(ep.port);
    silent.hello();
    busy.hello();
    const timer = setInterval(() => busy.send({ action: 'ping' }), 100);
    try {
      const e = await silent.error('idle_timeout', 0, 3000);
      expect(e.params.message).toMatch(/ping/);
      await silent.waitClosed();
      // the pinging one outlives the timeout by its own pings (counted, not slept): 8 more pongs at one
      // ping per 100 ms span two idle timeouts
      const pongsAtClose = busy.messages.filter((m) => m.action === 'pong').length;
      await waitFor(
        () => busy.closed || busy.messages.filter((m) => m.action === 'pong').length >= pongsAtClose + 8,
        10_000,
        'eight more pongs for the pinging client',
      );
      expect(busy.closed).toBe(false);
    } finally {
      clearInterval(timer);
    }
  });

  it('slow consumer: bounded queue, slow_consumer, closed; other clients unaffected', async () => {
    const maxQueue = 64 * 1024;
    const { ep, pub } = await setup('slow', ['--max-queue', String(maxQueue)]);
    const slow = await client(ep.port);
    const good = await client(ep.port);
    for (const c of [slow, good]) {
      c.hello();
      c.send({ action: 'start_feed', params: { movie_id: 1 } });
      c.send({ action: 'ping' });
      await c.next('pong');
    }
    slow.socket.pause();
    let maxBuffered = 0;
    const conn = [...ep.instance.server.clients][0]!;
    const text = 'x'.repeat(2000);
    let sent = 0;
    // the kernel buffers of loopback take megabytes before the endpoint's own queue fills
    while (ep.instance.server.gauges().slow_consumers === 0 && sent < 40_000) {
      await pub.publish(
        1,
        Array.from({ length: 50 }, () => pub.tweet(text)),
      );
      sent += 50;
      maxBuffered = Math.max(maxBuffered, conn.socket.writableLength);
      await sleep(5);
    }
    expect(ep.instance.server.gauges().slow_consumers).toBe(1);
    // at most the bound plus one batch (50 lines of ~2.2 KB)
    expect(maxBuffered).toBeLessThanOrEqual(maxQueue + 50 * 2300);
    // reading again within the grace: the client gets what was queued, the error last, then the close
    slow.socket.resume();
    await slow.error('slow_consumer', 0, 10_000);
    await slow.waitClosed();
    expect(slow.messages.at(-1)).toMatchObject({ action: 'error', params: { code: 'slow_consumer' } });
    await good.until(() => good.tweets().length === sent, 20_000, `all ${sent} tweets`);
    expect(good.closed).toBe(false);
  });

  it('1k concurrent clients on three movies each get every tweet of their movie', async () => {
    const { ep, pub } = await setup('many', ['--rate-burst', '100']);
    const n = 1000;
    const cs: LineClient[] = [];
    for (let i = 0; i < n; i += 100) {
      cs.push(...(await Promise.all(Array.from({ length: Math.min(100, n - i) }, () => client(ep.port)))));
    }
    cs.forEach((c, i) => {
      c.hello();
      c.send({ action: 'start_feed', params: { movie_id: (i % 3) + 1 } });
      c.send({ action: 'ping' });
    });
    await Promise.all(cs.map((c) => c.next('pong', 0, 15_000)));
    expect(ep.instance.server.gauges().clients).toBe(n);
    expect(ep.instance.server.gauges().feeds).toBe(3);
    for (const m of [1, 2, 3])
      await pub.publish(
        m,
        Array.from({ length: 5 }, () => pub.tweet(`movie ${m}`)),
      );
    await Promise.all(cs.map((c) => c.until(() => c.tweets().length === 5, 15_000)));
    cs.forEach((c, i) => {
      expect(c.tweets().every((t) => t.params.movie_id === (i % 3) + 1)).toBe(true);
    });
  });
});

describe('TLS', () => {
  it('speaks the same protocol over TLS with a self-signed certificate', async () => {
    const dir = makeTempDir('ep-tls');
    const cert = makeSelfSignedCert(path.join(dir, 'cert'));
    const { ep, pub } = await setup('tls', ['--tls-cert', cert.cert, '--tls-key', cert.key]);
    expect(ep.instance.server.record().tls).toBe(true);
    const c = await client(ep.port, { tls: true, ca: cert.cert });
    c.hello();
    await c.next('set_movies');
    c.send({ action: 'start_feed', params: { movie_id: 2 } });
    c.send({ action: 'ping', params: { id: 'tls' } });
    await c.next('pong');
    await pub.publish(2, [pub.tweet('over tls')]);
    await c.until(() => c.tweets().some((t) => t.params.tweet.text === 'over tls'));
    // a plain-TCP client gets nothing usable and does not disturb the server
    const plain = await client(ep.port);
    plain.hello();
    await plain.waitClosed(12_000);
    expect(plain.messages).toHaveLength(0);
    c.send({ action: 'ping', params: { id: 'still' } });
    await c.until((m) => m.some((x) => x.action === 'pong' && x.params.id === 'still'));
  });
});
