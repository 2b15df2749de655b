// The raw RESP publish path against a real redis-server: byte-identical Redis state and channel messages to
// queueTweet, AUTH/SELECT from the URL, rediss://, error replies detected per command, replies cut anywhere.
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Tweet } from '../../protocol/messages.ts';
import { HISTORY_FIELDS, redisContract } from '../../protocol/redis-contract.ts';
import { queueTweet } from '../../protocol/redis-writes.ts';
import { Publisher } from '../../roles/feeder/publisher.ts';
import { ReplyReader, RespBatch, RespConnection } from '../../roles/feeder/resp.ts';
import { makeSelfSignedCert, makeTempDir, type RedisServer, startRedis, waitFor } from '../harness/index.ts';

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis({ password: 'p@ss word' });
});
afterAll(async () => {
  await redis?.stop();
});

const tweet = (id: string, text: string): Tweet => ({
  id,
  text,
  created_at: '2013-10-04T18:30:00.000Z',
  user: { name: `Fan ${id} ✨`, screen_name: `fan${id}` },
});

const MANY = 73;
/** publications: several movies, a tweet on two movies, non-ASCII text */
function publications(): Array<{ movieId: number; tweet: Tweet }> {
  const pubs: Array<{ movieId: number; tweet: Tweet }> = [];
  for (let i = 0; i < MANY; i++) {
    pubs.push({ movieId: 7, tweet: tweet(`a${i}`, `#Gravity ${i} — “zero g” 🚀 café\n"quoted"`) });
    if (i % 5 === 0) {
      const t = tweet(`b${i}`, `Gravity and Rush, double feature ${i}`);
      pubs.push({ movieId: 7, tweet: t }, { movieId: 3, tweet: t });
    }
    if (i % 9 === 0) pubs.push({ movieId: 100001 + i, tweet: tweet(`c${i}`, `Épique ${i}`) });
  }
  return pubs;
}

const dbUrl = (db: number) => `${redis.url}/${db}`;

/** A channel message without its offset and epoch (they differ from run to run), after checking the offset is
 * that of the stream entry of the same line. */
const OFFSET_EPOCH = /,"offset":"(\d+-\d+)","epoch":"([A-Za-z0-9_-]+)"\}\}\n$/;

/** Everything on the movie channels while `write` runs, and every key's value and TTL afterwards (history
 * streams as their lines; their ids and epochs are checked against the channel messages). */
async function capture(db: number, prefix: string, write: () => Promise<void>) {
  const sub = new Redis(dbUrl(db));
  const got: Array<[string, string]> = [];
  sub.on('pmessageBuffer', (_p: Buffer, ch: Buffer, msg: Buffer) =>
    got.push([ch.toString(), msg.toString()]),
  );
  await sub.psubscribe(`${prefix}movie:*`);
  const n = publications().length;
  await write();
  await waitFor(() => got.length >= n, 10_000, `${n} channel messages`);
  sub.disconnect();
  const r = new Redis(dbUrl(db));
  const state: Record<string, { items: string[]; ttl: number }> = {};
  const ids = new Map<string, string>(); // offset → line, over all streams
  for (const key of (await r.keys('*')).sort()) {
    let items: string[];
    if ((await r.type(key)) === 'stream') {
      const entries = await r.xrange(key, '-', '+');
      const epochs = new Set(entries.map(([, f]) => f[f.indexOf(HISTORY_FIELDS.epoch) + 1]));
      expect(epochs.size, `one epoch in ${key}`).toBe(1);
      items = entries.map(([id, f]) => {
        const line = f[f.indexOf(HISTORY_FIELDS.line) + 1]!;
        ids.set(`${key} ${id}`, line);
        return line;
      });
    } else items = Object.entries(await r.hgetall(key)).map(([f, v]) => `${f}=${v}`);
    state[key] = { items, ttl: Math.round((await r.ttl(key)) / 100) };
  }
  r.disconnect();
  const messages = got.map(([ch, msg]) => {
    const m = OFFSET_EPOCH.exec(msg);
    expect(m, msg).not.toBeNull();
    const line = `${msg.slice(0, m!.index)}}}\n`;
    const stream = ch.replace(/:tweets$/, ':history');
    expect(ids.get(`${stream} ${m![1]}`), 'the offset is the stream entry of the same line').toBe(line);
    return [ch, line];
  });
  return { messages, state };
}

describe('RESP publish path', () => {
  it('leaves the same channel messages and histories, byte for byte, as queueTweet', async () => {
    const prefix = 'fg:é:'; // a non-ASCII key takes the encoder's slow path
    const keys = redisContract(prefix);
    const reference = await capture(1, prefix, async () => {
      const r = new Redis(dbUrl(1));
      const p = r.pipeline();
      for (const { movieId, tweet } of publications()) queueTweet(p, keys, movieId, tweet);
      await p.exec();
      r.disconnect();
    });
    const viaResp = await capture(2, prefix, async () => {
      const resp = new RespConnection(dbUrl(2), { name: 'resp test' });
      const pub = new Publisher({ resp, keys, maxBuffer: 10_000, batch: 17 });
      for (const { movieId, tweet } of publications()) pub.enqueue([movieId], tweet, 1, performance.now());
      expect(await pub.drain(10_000)).toBe(true);
      expect(pub.published).toBe(publications().length);
      resp.close();
    });
    const movies = [...new Set(publications().map((p) => p.movieId))];
    expect(movies.length).toBeGreaterThan(5);
    expect(Object.keys(reference.state)).toEqual(movies.map((m) => keys.movieHistory(m)).sort());
    expect(reference.state[keys.movieHistory(7)].items.length).toBe(
      publications().filter((p) => p.movieId === 7).length,
    );
    // the counts are in the same db too: leave them out of the comparison with queueTweet
    const withoutCounts = Object.fromEntries(
      Object.entries(viaResp.state).filter(([k]) => !k.startsWith(`${prefix}counts:`)),
    );
    expect(withoutCounts).toEqual(reference.state);
    expect(viaResp.messages).toEqual(reference.messages);
    // and the counts landed
    const r = new Redis(dbUrl(2));
    expect(await r.hget(keys.countBucket(1), '7')).toBe(
      String(publications().filter((p) => p.movieId === 7).length),
    );
    r.disconnect();
  });

  it('says which commands Redis refused (e.g. WRONGTYPE) and keeps those publications', async () => {
    const keys = redisContract('err:');
    const r = new Redis(dbUrl(3));
    await r.set(keys.movieHistory(2), 'not a stream');
    const errors: string[] = [];
    const resp = new RespConnection(dbUrl(3));
    const pub = new Publisher({
      resp,
      keys,
      maxBuffer: 1000,
      batch: 100,
      onError: (e) => errors.push(e.message),
    });
    try {
      for (let i = 0; i < 5; i++) pub.enqueue([1, 2], tweet(`t${i}`, `x ${i}`), 1, performance.now());
      await waitFor(() => errors.length > 0, 5000, 'the error');
      expect(errors[0]).toMatch(/^FGPARTIAL 1 3 5 7 9 \(WRONGTYPE/);
      expect(pub.published).toBe(5); // movie 1's
      expect(pub.buffered + pub.published).toBe(10); // movie 2's wait for a retry
      expect(await r.xlen(keys.movieHistory(1))).toBe(5);
      await r.del(keys.movieHistory(2));
      await waitFor(() => pub.published === 10, 5000, 'the retried publications');
      expect(await r.xlen(keys.movieHistory(2))).toBe(5);
    } finally {
      pub.close();
      resp.close();
      r.disconnect();
    }
  });

  it('authenticates from the URL and retries a refused password', async () => {
    const bad = new RespConnection(redis.url.replace(/:[^:@/]*@/, ':wrong@'));
    const refused = new Promise<Error>((resolve) => bad.once('refused', resolve));
    expect((await refused).message).toMatch(/WRONGPASS|invalid/i);
    expect(bad.status).not.toBe('ready');
    await expect(bad.send(new RespBatch())).rejects.toThrow(/not ready|connecting|down/);
    bad.close();
  });

  it('speaks TLS for rediss://', async () => {
    const dir = makeTempDir('resp-tls');
    const cert = makeSelfSignedCert(path.join(dir, 'cert'));
    const server = await startRedis({
      tls: { cert: cert.cert, key: cert.key, ca: cert.cert },
      password: 'pw',
    });
    const resp = new RespConnection(server.url, { tlsCa: cert.cert });
    const r = new Redis(server.url, { tls: { ca: [cert.certPem] } });
    try {
      await new Promise((resolve) => resp.once('ready', resolve));
      const b = new RespBatch();
      b.command('SET', 'k', 'v');
      b.command('INCRBY', 'n', 41);
      b.command('INCR', 'n');
      expect(await resp.send(b)).toEqual({ errors: [] });
      expect(await r.mget('k', 'n')).toEqual(['v', '42']);
    } finally {
      resp.close();
      r.disconnect();
      await server.stop();
    }
  });
});

describe('RESP connection watchdog', () => {
  it('drops a connection whose replies stop coming, and reconnects', async () => {
    const server = await startRedis({ args: ['--enable-debug-command', 'yes'] });
    const resp = new RespConnection(server.url, { replyTimeoutMs: 300 });
    const other = new Redis(server.url);
    try {
      await new Promise((resolve) => resp.once('ready', resolve));
      // Redis stops answering for 1.5 s (as a hung or partitioned server would)
      const sleeping = other.call('DEBUG', 'SLEEP', '1.5');
      await new Promise((r) => setTimeout(r, 50));
      const b = new RespBatch();
      b.command('PING');
      await expect(resp.send(b)).rejects.toThrow(/no reply from Redis for 300 ms/);
      await sleeping;
      await waitFor(() => resp.status === 'ready', 10_000, 'the reconnect');
      const again = new RespBatch();
      again.command('SET', 'after', 'yes');
      expect(await resp.send(again)).toEqual({ errors: [] });
      expect(await other.get('after')).toBe('yes');
    } finally {
      resp.close();
      other.disconnect();
      await server.stop();
    }
  });
});

describe('ReplyReader', () => {
  it('counts replies cut anywhere across chunks and reports error text', () => {
    const wire = Buffer.from(
      ':1\r\n+OK\r\n-WRONGTYPE Operation against a key\r\n$5\r\nhe\r\no\r\n$-1\r\n*2\r\n:1\r\n*1\r\n$2\r\nxy\r\n*-1\r\n:-3\r\n',
    );
    const whole: Array<string | null> = [];
    new ReplyReader((e) => whole.push(e)).feed(wire);
    expect(whole).toEqual([null, null, 'WRONGTYPE Operation against a key', null, null, null, null, null]);
    for (let cut = 1; cut < wire.length; cut++) {
      const got: Array<string | null> = [];
      const reader = new ReplyReader((e) => got.push(e));
      reader.feed(wire.subarray(0, cut));
      reader.feed(wire.subarray(cut));
      expect(got).toEqual(whole);
    }
    const bytes: Array<string | null> = [];
    const byByte = new ReplyReader((e) => bytes.push(e));
    for (const b of wire) byByte.feed(Buffer.of(b));
    expect(bytes).toEqual(whole);
  });
});
