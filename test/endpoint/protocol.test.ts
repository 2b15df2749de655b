// Every action and error code of protocol v1 against a real endpoint and a real redis-server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_LINE_BYTES } from '../../protocol/messages.ts';
import { type RedisServer, startRedis } from '../harness/index.ts';
import {
  freshPrefix,
  LineClient,
  MOVIES,
  Publisher,
  type StartedEndpoint,
  sleep,
  startEndpoint,
} from './helpers.ts';

let redis: RedisServer;
let ep: StartedEndpoint;
let pub: Publisher;
const clients: LineClient[] = [];
const connect = async () => {
  const c = await LineClient.connect(ep.port);
  clients.push(c);
  return c;
};

beforeAll(async () => {
  redis = await startRedis();
  const prefix = freshPrefix('proto');
  pub = new Publisher(redis.url, prefix);
  await pub.catalog(MOVIES);
  await pub.ranking([
    { id: 1, title: 'Arrival', count: 5 },
    { id: 2, title: 'Heat', count: 9 },
  ]);
  ep = await startEndpoint(redis.url, prefix, ['--sync', '300ms']);
});

afterAll(async () => {
  for (const c of clients) c.close();
  await ep?.stop();
  await pub?.close();
  await redis?.stop();
});

describe('connect', () => {
  it('answers connect with the ranking from Redis at once', async () => {
    const c = await connect();
    c.hello();
    const m = await c.next('set_movies');
    expect(m.params.window_s).toBe(3600);
    // the ranked ones, then the rest of the catalog with count 0 (--movies-shown)
    expect(m.params.movies.map((x) => [x.id, x.count])).toEqual([
      [2, 9],
      [1, 5],
      [3, 0],
    ]);
    expect(ep.logs.some((l) => /"msg":"listening"/.test(l) && /"port":\d+/.test(l))).toBe(true);
  });

  it('refuses every other action before connect with not_connected, and keeps the connection', async () => {
    const c = await connect();
    c.send({ action: 'start_feed', params: { movie_id: 1 } });
    c.send({ action: 'stop_feed' });
    c.send({ action: 'ping', params: { id: 1 } });
    await c.until((m) => m.length >= 3);
    expect(c.messages.map((m) => m.action === 'error' && [m.params.code, m.params.action])).toEqual([
      ['not_connected', 'start_feed'],
      ['not_connected', 'stop_feed'],
      ['not_connected', 'ping'],
    ]);
    c.hello();
    await c.next('set_movies');
    expect(c.closed).toBe(false);
  });

  it('refuses an unsupported protocol version with invalid_message', async () => {
    const c = await connect();
    c.send({ action: 'connect', params: { client: { app: 'a', version: '1' }, protocol: 2 } });
    const e = await c.error('invalid_message');
    expect(e.params.action).toBe('connect');
    expect(e.params.message).toMatch(/protocol/);
  });
});

describe('bad input keeps the connection open', () => {
  it('invalid_json, invalid_message, unknown_action, each answered, then business as usual', async () => {
    const c = await connect();
    c.hello();
    await c.next('set_movies');
    c.send('this is not json\n');
    c.send('\xff\xfe\n');
    c.send('[1,2,3]\n');
    c.send({ action: 'start_feed', params: { movie_id: 'seven' } });
    c.send({ action: 42 });
    c.send({ action: 'dance', params: {} });
    c.send({ action: 'ping', params: { id: 'after' } });
    const pong = await c.next('pong');
    expect(pong.params.id).toBe('after');
    const codes = c.messages
      .filter((m) => m.action === 'error')
      .map((m) => (m.action === 'error' ? m.params.code : ''));
    expect(codes).toEqual([
      'invalid_json',
      'invalid_json',
      'invalid_message',
      'invalid_message',
      'invalid_message',
      'unknown_action',
    ]);
    const unknown = c.messages.find((m) => m.action === 'error' && m.params.code === 'unknown_action');
    expect(unknown?.action === 'error' && unknown.params.action).toBe('dance');
    expect(c.closed).toBe(false);
  });

  it('accepts \\r\\n line ends and omitted params', async () => {
    const c = await connect();
    c.send('{"action":"connect","params":{"client":{"app":"x","version":"1"}}}\r\n{"action":"ping"}\r\n');
    const pong = await c.next('pong');
    expect(pong.params).toEqual({});
  });

  it('line_too_long: error, then the connection is closed', async () => {
    const c = await connect();
    c.hello();
    await c.next('set_movies');
    c.send(`{"action":"ping","params":{"id":"${'x'.repeat(MAX_LINE_BYTES + 10)}"}}\n`);
    await c.error('line_too_long');
    await c.waitClosed();
  });

  it('a line of exactly 64 KiB is still accepted', async () => {
    const c = await connect();
    c.hello();
    await c.next('set_movies');
    const head = '{"action":"ping","params":{"id":"';
    const tail = '"}}';
    const id = 'y'.repeat(MAX_LINE_BYTES - head.length - tail.length);
    c.send(`${head}${id}${tail}\n`);
    const pong = await c.next('pong');
    expect(pong.params.id).toBe(id);
  });
});

describe('ping', () => {
  it('echoes any JSON id', async () => {
    const c = await connect();
    c.hello();
    const ids = [7, 'x', null, { a: [1, { b: true }] }, [1, 2]];
    for (const id of ids) c.send({ action: 'ping', params: { id } });
    await c.until((m) => m.filter((x) => x.action === 'pong').length === ids.length);
    expect(c.messages.filter((m) => m.action === 'pong').map((m) => m.params.id)).toEqual(ids);
  });
});

describe('feeds', () => {
  it('start_feed: unknown_movie for an id outside the catalog', async () => {
    const c = await connect();
    c.hello();
    c.send({ action: 'start_feed', params: { movie_id: 999 } });
    const e = await c.error('unknown_movie');
    expect(e.params.action).toBe('start_feed');
    expect(e.params.message).toMatch(/999/);
  });

  it('start_feed: the last 20 tweets oldest first, then live ones; stop_feed stops them', async () => {
    const history = Array.from({ length: 25 }, (_, i) => pub.tweet(`old ${i}`));
    await pub.publish(3, history);
    const c = await connect();
    c.hello();
    c.send({ action: 'start_feed', params: { movie_id: 3 } });
    await c.until(() => c.tweets().length >= 20);
    expect(c.tweets().map((t) => t.params.tweet.text)).toEqual(history.slice(5).map((t) => t.text));
    expect(c.tweets().every((t) => t.params.movie_id === 3)).toBe(true);
    const live = [pub.tweet('live a'), pub.tweet('live b')];
    await pub.publish(3, live);
    await c.until(() => c.tweets().length === 22);
    expect(
      c
        .tweets()
        .slice(20)
        .map((t) => t.params.tweet.text),
    ).toEqual(['live a', 'live b']);

    c.send({ action: 'stop_feed', params: { movie_id: 3 } });
    c.send({ action: 'ping', params: { id: 'stopped' } });
    await c.next('pong');
    await pub.publish(3, [pub.tweet('after stop')]);
    await sleep(300);
    expect(c.tweets()).toHaveLength(22);
  });

  it('start_feed replaces the current feed', async () => {
    const c = await connect();
    c.hello();
    c.send({ action: 'start_feed', params: { movie_id: 1 } });
    c.send({ action: 'start_feed', params: { movie_id: 2 } });
    c.send({ action: 'ping', params: { id: 'ready' } });
    await c.next('pong');
    await pub.publish(1, [pub.tweet('for 1')]);
    await pub.publish(2, [pub.tweet('for 2')]);
    await c.until(() => c.tweets().some((t) => t.params.tweet.text === 'for 2'));
    await sleep(200);
    expect(c.tweets().map((t) => t.params.tweet.text)).not.toContain('for 1');
  });

  it('one Redis subscription per movie, dropped when its last local client leaves', async () => {
    const channel = pub.keys.movieChannel(2);
    const numsub = async () => Number(((await pub.redis.pubsub('NUMSUB', channel)) as [string, number])[1]);
    const cs = await Promise.all([connect(), connect(), connect()]);
    for (const c of cs) {
      c.hello();
      c.send({ action: 'start_feed', params: { movie_id: 2 } });
      c.send({ action: 'ping' });
    }
    await Promise.all(cs.map((c) => c.next('pong')));
    expect(await numsub()).toBe(1);
    const tweet = pub.tweet('to all three');
    await pub.publish(2, [tweet]);
    await Promise.all(cs.map((c) => c.until(() => c.tweets().some((t) => t.params.tweet.id === tweet.id))));
    // every client got the same bytes
    const lines = cs.map((c) => c.raw.find((l) => l.includes('to all three')));
    expect(new Set(lines).size).toBe(1);
    for (const c of cs) c.close();
    // and the other tests' clients on movie 2 leave too
    for (const c of clients) if (!cs.includes(c)) c.send({ action: 'stop_feed' });
    await expect.poll(numsub, { timeout: 3000 }).toBe(0);
  });
});

describe('set_movies', () => {
  it('pushes a changed ranking to every client, reading Redis at most once per period', async () => {
    const a = await connect();
    const b = await connect();
    a.hello();
    b.hello();
    await a.next('set_movies');
    await b.next('set_movies');
    const readsBefore = ep.instance.server.ranking.reads;
    const t0 = Date.now();
    // 30 change notices in a burst: still at most one read per 300 ms period
    for (let i = 0; i < 30; i++) {
      await pub.ranking([
        { id: 3, title: 'Alien', count: 100 + i },
        { id: 1, title: 'Arrival', count: 5 },
      ]);
    }
    await a.until((m) => m.some((x) => x.action === 'set_movies' && x.params.movies[0]?.count === 129), 5000);
    await b.until((m) => m.some((x) => x.action === 'set_movies' && x.params.movies[0]?.count === 129), 5000);
    const elapsed = Date.now() - t0;
    const reads = ep.instance.server.ranking.reads - readsBefore;
    expect(reads).toBeGreaterThanOrEqual(1);
    expect(reads).toBeLessThanOrEqual(Math.ceil(elapsed / 300) + 1);
    // unchanged ranking: nothing more is sent
    const n = a.messages.filter((m) => m.action === 'set_movies').length;
    await pub.redis.publish(pub.keys.rankingChanged, 'again');
    await sleep(800);
    expect(a.messages.filter((m) => m.action === 'set_movies').length).toBe(n);
  });
});

describe('gauges', () => {
  it('report the event-loop delay of the interval since the last reading', async () => {
    // The role's own heartbeat also reads (and resets) the gauges every 2 s; if one lands between the stall and
    // our read it takes the stall, so try a few times.
    let g = ep.instance.server.gauges();
    for (let attempt = 0; attempt < 3; attempt++) {
      ep.instance.server.gauges(); // start a fresh interval
      await sleep(50);
      const until = Date.now() + 120;
      while (Date.now() < until) {} // the endpoint shares this event loop: block it
      await sleep(30);
      g = ep.instance.server.gauges();
      if (g.loop_delay_max_ms! >= 100) break;
    }
    expect(g.loop_delay_max_ms).toBeGreaterThanOrEqual(100);
    expect(g.loop_delay_p99_ms).toBeGreaterThanOrEqual(g.loop_delay_p50_ms!);
    await sleep(50);
    // the next interval does not carry the stall over
    expect(ep.instance.server.gauges().loop_delay_max_ms).toBeLessThan(g.loop_delay_max_ms!);
  });
});
