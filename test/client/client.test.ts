// The client SDK against real endpoints: endpoint list sources, typed events, TLS, redirects, restarts.
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { once } from 'node:events';
import path from 'node:path';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backoffDelay } from '../../protocol/client/backoff.ts';
import { FilmgrainClient } from '../../protocol/client/client.ts';
import { EndpointListError, loadEndpointList } from '../../protocol/client/endpoint-source.ts';
import type { ServerParamsOf } from '../../protocol/messages.ts';
import { encodeServerMessage } from '../../protocol/ndjson.ts';
import {
  makeSelfSignedCert,
  makeTempDir,
  type RedisServer,
  startMoto,
  startRedis,
} from '../harness/index.ts';
import {
  freshPrefix,
  LineClient,
  MOVIES,
  Publisher,
  type StartedEndpoint,
  startEndpoint,
} from '../endpoint/helpers.ts';

let redis: RedisServer;
let dir: string;
const cleanups: Array<() => unknown> = [];

beforeAll(async () => {
  redis = await startRedis();
  dir = makeTempDir('client');
});
afterAll(async () => {
  for (const f of cleanups.reverse()) await f();
  await redis?.stop();
});

const listJson = (eps: Array<{ host: string; port: number; tls: boolean }>) =>
  JSON.stringify({
    endpoints: eps.map((e) => ({ ...e, clients: 0, capacity: 100 })),
    updated_at: new Date().toISOString(),
  });

async function endpoint(prefix: string, args: string[] = []): Promise<StartedEndpoint> {
  const e = await startEndpoint(redis.url, prefix, args);
  cleanups.push(() => e.stop());
  return e;
}

function sdk(o: ConstructorParameters<typeof FilmgrainClient>[0]): FilmgrainClient {
  const c = new FilmgrainClient(o);
  cleanups.push(() => c.close());
  return c;
}

/** Collects tweets a client emits. */
function tweetsOf(c: FilmgrainClient): ServerParamsOf['post_tweet'][] {
  const out: ServerParamsOf['post_tweet'][] = [];
  c.on('post_tweet', (t) => out.push(t));
  return out;
}

async function until(pred: () => boolean, ms = 8000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('endpoint list', () => {
  const eps = [
    { host: '127.0.0.1', port: 7001, tls: false },
    { host: 'ep2.example', port: 7002, tls: true },
  ];

  it('reads endpoints.json from a file path and a file:// URL', async () => {
    const f = path.join(dir, 'endpoints.json');
    fs.writeFileSync(f, listJson(eps));
    expect((await loadEndpointList(f)).endpoints.map((e) => e.port)).toEqual([7001, 7002]);
    expect((await loadEndpointList(`file://${f}`)).endpoints[1]!.tls).toBe(true);
  });

  it('reads it over HTTP', async () => {
    const srv = http.createServer((req, res) => {
      if (req.url === '/endpoints.json') res.end(listJson(eps));
      else res.writeHead(404).end();
    });
    srv.listen(0, '127.0.0.1');
    await once(srv, 'listening');
    cleanups.push(() => srv.close());
    const port = (srv.address() as { port: number }).port;
    expect((await loadEndpointList(`http://127.0.0.1:${port}/endpoints.json`)).endpoints).toHaveLength(2);
    await expect(loadEndpointList(`http://127.0.0.1:${port}/missing.json`)).rejects.toThrow(/HTTP 404/);
  });

  it('reads it from S3 (moto)', async () => {
    const moto = await startMoto();
    cleanups.push(() => moto.stop());
    const s3 = new S3Client(moto.clientConfig);
    await s3.send(new CreateBucketCommand({ Bucket: 'fleet' }));
    await s3.send(new PutObjectCommand({ Bucket: 'fleet', Key: 'prod/endpoints.json', Body: listJson(eps) }));
    const l = await loadEndpointList('s3://fleet/prod/endpoints.json', { s3 });
    expect(l.endpoints.map((e) => e.host)).toEqual(['127.0.0.1', 'ep2.example']);
    await expect(loadEndpointList('s3://fleet/nope.json', { s3 })).rejects.toThrow(EndpointListError);
  });

  it('says what is wrong with a bad list and what to do', async () => {
    const f = path.join(dir, 'bad.json');
    fs.writeFileSync(f, '{"endpoints":[{"host":"x"}]}');
    const err = await loadEndpointList(f).catch((e) => e);
    expect(err).toBeInstanceOf(EndpointListError);
    expect(err.message).toMatch(/endpoints\.0\.port/);
    expect(err.message).toMatch(/→ It must be the endpoints\.json/);
    await expect(loadEndpointList(path.join(dir, 'absent.json'))).rejects.toThrow(
      /cannot read.*→ Check the path/s,
    );
  });
});

describe('backoff', () => {
  it('grows exponentially with jitter and a cap', () => {
    expect(backoffDelay(0, {}, () => 0)).toBe(125);
    expect(backoffDelay(0, {}, () => 1)).toBe(250);
    expect(backoffDelay(3, {}, () => 1)).toBe(2000);
    expect(backoffDelay(50, { maxMs: 5000 }, () => 1)).toBe(5000);
    const samples = new Set(Array.from({ length: 20 }, () => backoffDelay(4)));
    expect(samples.size).toBeGreaterThan(1);
  });
});

describe('client', () => {
  it('connects from a list file, gets typed events, follows a feed, answers ping', async () => {
    const prefix = freshPrefix('sdk');
    const pub = new Publisher(redis.url, prefix);
    cleanups.push(() => pub.close());
    await pub.catalog(MOVIES);
    await pub.ranking([{ id: 1, title: 'Arrival', count: 3 }]);
    const e = await endpoint(prefix);
    const f = path.join(dir, 'one.json');
    fs.writeFileSync(f, listJson([{ host: '127.0.0.1', port: e.port, tls: false }]));
    const c = sdk({ endpoints: f, app: 'test', version: '1' });
    const movies = once(c, 'set_movies');
    const tweets = tweetsOf(c);
    c.startFeed(1);
    await c.start();
    const [ranking] = (await movies) as [ServerParamsOf['set_movies']];
    // protocol 1.1 (the SDK's default): each entry also says how many clients fleet-wide watch the movie
    expect(ranking.movies[0]).toEqual({ id: 1, title: 'Arrival', count: 3, watching: expect.any(Number) });
    await c.ping('hello');
    await pub.publish(1, [pub.tweet('sdk live')]);
    await until(() => tweets.some((t) => t.tweet.text === 'sdk live'));
    const errors: string[] = [];
    c.on('server_error', (err) => errors.push(err.code));
    c.startFeed(404);
    await until(() => errors.includes('unknown_movie'));
  });

  it('connects over TLS with the CA of a self-signed certificate', async () => {
    const prefix = freshPrefix('sdk-tls');
    const cert = makeSelfSignedCert(path.join(dir, 'tls'));
    const e = await endpoint(prefix, ['--tls-cert', cert.cert, '--tls-key', cert.key]);
    const c = sdk({
      endpoints: [{ host: '127.0.0.1', port: e.port, tls: true }],
      app: 'test',
      version: '1',
      tls: { ca: fs.readFileSync(cert.cert) },
    });
    const movies = once(c, 'set_movies');
    await c.start();
    await movies;
    expect(c.endpoint?.tls).toBe(true);
  });

  it('follows a redirect to another endpoint and restores its feed there', async () => {
    const prefix = freshPrefix('sdk-redirect');
    const pub = new Publisher(redis.url, prefix);
    cleanups.push(() => pub.close());
    await pub.catalog(MOVIES);
    const a = await endpoint(prefix, ['--soft-limit', '1']);
    const b = await endpoint(prefix);
    const occupant = await LineClient.connect(a.port);
    cleanups.push(() => occupant.close());
    occupant.hello();
    await occupant.next('set_movies');
    await a.instance.server.registry.refresh();

    const c = sdk({
      endpoints: [{ host: '127.0.0.1', port: a.port, tls: false }],
      app: 'test',
      version: '1',
    });
    const redirects: number[] = [];
    c.on('redirect', (r) => redirects.push(r.port));
    const tweets = tweetsOf(c);
    c.startFeed(2);
    await c.start();
    await until(
      () => c.ready && c.endpoint?.port === b.port,
      8000,
      `session on b (${b.port}): at ${JSON.stringify(c.endpoint)} ready=${c.ready} redirects=${redirects} a=${a.port}`,
    );
    expect(redirects).toEqual([b.port]);
    await until(() => b.instance.server.feeds.size === 1, 5000, 'feed restored on b');
    await pub.publish(2, [pub.tweet('on b')]);
    await until(() => tweets.some((t) => t.tweet.text === 'on b'));
  });

  it('survives an endpoint restart: reconnects with backoff and restores the feed without repeats', async () => {
    const prefix = freshPrefix('sdk-restart');
    const pub = new Publisher(redis.url, prefix);
    cleanups.push(() => pub.close());
    await pub.catalog(MOVIES);
    const first = await endpoint(prefix);
    const port = first.port;
    const c = sdk({
      endpoints: [{ host: '127.0.0.1', port, tls: false }],
      app: 'test',
      version: '1',
      backoff: { initialMs: 100, maxMs: 400 },
    });
    const tweets = tweetsOf(c);
    const downs: string[] = [];
    c.on('disconnected', (d) => downs.push(d.reason));
    c.startFeed(3);
    await c.start();
    await until(() => first.instance.server.feeds.size === 1, 5000, 'feed on the first endpoint');
    await pub.publish(3, [pub.tweet('one'), pub.tweet('two')]);
    await until(() => tweets.length === 2);

    await first.stop();
    await until(() => downs.length >= 1, 5000, 'the client to notice');
    await new Promise((r) => setTimeout(r, 600)); // a few failed attempts while nothing listens
    const second = await endpoint(prefix, ['--port', String(port)]);
    await until(
      () => c.ready && second.instance.server.feeds.size === 1,
      10_000,
      'feed restored after restart',
    );
    await pub.publish(3, [pub.tweet('three')]);
    await until(() => tweets.some((t) => t.tweet.text === 'three'));
    // the recent tweets sent again on start_feed were recognised as seen
    expect(tweets.map((t) => t.tweet.text)).toEqual(['one', 'two', 'three']);
    expect(c.connects).toBeGreaterThanOrEqual(3);
  });

  it('onTweetLine: tweet lines handed over as exact byte ranges however the stream is split', async () => {
    // A plain TCP server writing real protocol lines in pieces of 1..300 bytes: the SDK's own framing of the
    // fast path is what is tested here, so the split points must be under the test's control.
    const tweets = Array.from({ length: 40 }, (_, i) =>
      encodeServerMessage('post_tweet', {
        movie_id: 1,
        tweet: {
          id: String(i),
          text: `t${i} ${'é'.repeat(i * 7)}`,
          created_at: new Date().toISOString(),
          user: { name: 'N', screen_name: 'n' },
        },
      }),
    );
    const ranking = encodeServerMessage('set_movies', {
      movies: [],
      window_s: 3600,
      at: new Date().toISOString(),
    });
    const bigPong = encodeServerMessage('pong', { id: 'x'.repeat(200_000) });
    const stream = Buffer.concat([
      ranking,
      ...tweets.slice(0, 20),
      bigPong,
      ...tweets.slice(20),
      encodeServerMessage('pong', { id: 'end' }),
    ]);
    const socks = new Set<net.Socket>();
    const server = net.createServer(async (sock) => {
      socks.add(sock);
      sock.setNoDelay(true);
      let seed = 7;
      for (let at = 0; at < stream.length; ) {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        const n = at > 10_000 && at < 205_000 ? 50_000 : 1 + (seed % 300);
        sock.write(stream.subarray(at, at + n));
        at += n;
        await new Promise((r) => setTimeout(r, 1));
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => {
      for (const s of socks) s.destroy();
      server.close();
    });
    const got: string[] = [];
    const pongs: unknown[] = [];
    const c = sdk({
      endpoints: [{ host: '127.0.0.1', port: (server.address() as net.AddressInfo).port, tls: false }],
      app: 'test',
      version: '1',
      onTweetLine: (buf, start, end) => got.push(buf.toString('utf8', start, end)),
    });
    const parsed = tweetsOf(c);
    c.on('pong', (p) => pongs.push(p.id));
    const movies = once(c, 'set_movies');
    await c.start();
    await movies;
    await until(() => pongs.includes('end'), 8000, 'the last pong');
    expect(got).toEqual(tweets.map((t) => t.toString('utf8').trimEnd()));
    expect(pongs).toEqual(['x'.repeat(200_000), 'end']);
    expect(parsed).toEqual([]);
  });
});
