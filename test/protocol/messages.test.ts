import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as protocol from '../../protocol/index.ts';
import {
  CLIENT_ACTIONS,
  closesConnection,
  ERROR_CODES_CLOSE,
  ERROR_CODES_KEEP_OPEN,
  ErrorCodeSchema,
  MAX_ECHO_DEPTH,
  PROTOCOL_VERSION,
  parseClientMessage,
  parseServerMessage,
} from '../../protocol/messages.ts';
import { decodeLine, encodeServerMessage, messageLine, serverMessage } from '../../protocol/ndjson.ts';

const client = { app: 'filmgrain-ios', version: '3.2.0' };
const tweet = {
  id: '1850000000000000001',
  text: 'Dune 🏜️ again',
  created_at: '2024-10-26T12:00:00.000Z',
  user: { name: 'Ann', screen_name: 'ann' },
};

function nested(depth: number): unknown {
  let v: unknown = 0;
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

describe('client messages', () => {
  it('lists the five client actions', () => {
    expect(CLIENT_ACTIONS).toEqual(['connect', 'refresh_token', 'start_feed', 'stop_feed', 'ping']);
  });

  describe('connect', () => {
    it('accepts a client, optional platform and protocol 1', () => {
      expect(parseClientMessage({ action: 'connect', params: { client } })).toEqual({
        ok: true,
        message: { action: 'connect', params: { client } },
      });
      const full = { client: { ...client, platform: 'ios' }, protocol: 1 };
      expect(parseClientMessage({ action: 'connect', params: full })).toMatchObject({ ok: true });
    });

    it('rejects protocol 2 with a message that says which version the server speaks', () => {
      const r = parseClientMessage({ action: 'connect', params: { client, protocol: 2 } });
      expect(r).toMatchObject({ ok: false, code: 'invalid_message', action: 'connect' });
      const message = (r as { message: string }).message;
      expect(message).toContain('params.protocol');
      expect(message).toContain('unsupported protocol version');
      expect(message).toContain(`"${PROTOCOL_VERSION}.0" and "${PROTOCOL_VERSION}.1"`);
    });

    it('rejects a missing client, missing version and wrong types', () => {
      for (const params of [
        {},
        { client: { app: 'x' } },
        { client: { app: 1, version: '1' } },
        { client, protocol: '2' },
        { client, protocol: 1.25 },
        { client: 'x' },
      ]) {
        expect(parseClientMessage({ action: 'connect', params })).toMatchObject({
          ok: false,
          code: 'invalid_message',
        });
      }
      expect(parseClientMessage({ action: 'connect' })).toMatchObject({
        ok: false,
        message: expect.stringContaining('params.client'),
      });
    });

    it('drops unknown keys inside params', () => {
      const r = parseClientMessage({ action: 'connect', params: { client: { ...client, x: 1 }, y: 2 } });
      expect(r).toEqual({ ok: true, message: { action: 'connect', params: { client } } });
    });
  });

  describe('start_feed', () => {
    it('accepts an integer movie_id', () => {
      expect(parseClientMessage({ action: 'start_feed', params: { movie_id: 42 } })).toEqual({
        ok: true,
        message: { action: 'start_feed', params: { movie_id: 42 } },
      });
    });

    it('rejects a missing, fractional, string or unsafe movie_id and omitted params', () => {
      for (const params of [{}, { movie_id: 1.5 }, { movie_id: '42' }, { movie_id: 2 ** 60 }, null, [], 7]) {
        expect(parseClientMessage({ action: 'start_feed', params })).toMatchObject({
          ok: false,
          code: 'invalid_message',
          action: 'start_feed',
        });
      }
      expect(parseClientMessage({ action: 'start_feed' })).toMatchObject({
        ok: false,
        message: expect.stringContaining('params.movie_id'),
      });
    });
  });

  describe('stop_feed', () => {
    it('accepts empty, omitted params and an ignored movie_id', () => {
      expect(parseClientMessage({ action: 'stop_feed' })).toEqual({
        ok: true,
        message: { action: 'stop_feed', params: {} },
      });
      expect(parseClientMessage({ action: 'stop_feed', params: {} })).toMatchObject({ ok: true });
      expect(parseClientMessage({ action: 'stop_feed', params: { movie_id: 'whatever' } })).toMatchObject({
        ok: true,
      });
    });

    it('rejects params that are not an object', () => {
      expect(parseClientMessage({ action: 'stop_feed', params: 'x' })).toMatchObject({
        ok: false,
        code: 'invalid_message',
      });
    });
  });

  describe('ping', () => {
    it('accepts omitted params and any JSON id', () => {
      expect(parseClientMessage({ action: 'ping' })).toEqual({
        ok: true,
        message: { action: 'ping', params: {} },
      });
      for (const id of [1, 'abc', null, true, [1, { a: 2 }], { nested: { ok: [] } }]) {
        expect(parseClientMessage({ action: 'ping', params: { id } })).toEqual({
          ok: true,
          message: { action: 'ping', params: { id } },
        });
      }
    });

    it(`accepts ids nested ${MAX_ECHO_DEPTH} deep and refuses deeper ones`, () => {
      expect(parseClientMessage({ action: 'ping', params: { id: nested(MAX_ECHO_DEPTH) } })).toMatchObject({
        ok: true,
      });
      expect(
        parseClientMessage({ action: 'ping', params: { id: nested(MAX_ECHO_DEPTH + 1) } }),
      ).toMatchObject({
        ok: false,
        code: 'invalid_message',
        message: expect.stringContaining('params.id'),
      });
    });

    it('refuses an id nested so deep that echoing it in pong would overflow the stack', () => {
      const line = `{"action":"ping","params":{"id":${'['.repeat(30_000)}${']'.repeat(30_000)}}}`;
      expect(line.length).toBeLessThan(64 * 1024);
      const r = parseClientMessage(JSON.parse(line));
      expect(r).toMatchObject({ ok: false, code: 'invalid_message' });
    });

    it('every accepted id can be echoed', () => {
      const r = parseClientMessage({ action: 'ping', params: { id: nested(MAX_ECHO_DEPTH) } });
      if (!r.ok) throw new Error(r.message);
      const ping = r.message;
      if (ping.action !== 'ping') throw new Error('expected a ping');
      expect(() => encodeServerMessage('pong', { id: ping.params.id })).not.toThrow();
    });
  });

  describe('envelope', () => {
    it('ignores other top-level keys', () => {
      expect(parseClientMessage({ action: 'ping', params: { id: 1 }, seq: 9, v: 'x' })).toEqual({
        ok: true,
        message: { action: 'ping', params: { id: 1 } },
      });
    });

    it('refuses non-objects and a missing or non-string action', () => {
      for (const value of [
        null,
        1,
        'ping',
        [],
        [{ action: 'ping' }],
        {},
        { action: null },
        { action: ['ping'] },
      ]) {
        expect(parseClientMessage(value)).toMatchObject({ ok: false, code: 'invalid_message' });
      }
    });

    it('refuses unknown actions, including server actions and prototype names', () => {
      for (const action of ['dance', 'pong', 'set_movies', '__proto__', 'toString', 'constructor', '']) {
        expect(parseClientMessage({ action })).toMatchObject({ ok: false, code: 'unknown_action', action });
      }
    });
  });
});

describe('server messages', () => {
  const valid = [
    serverMessage('set_movies', {
      movies: [
        { id: 1, title: 'Dune', count: 12 },
        { id: 2, title: 'Alien', count: 3 },
      ],
      window_s: 3600,
      at: '2024-10-26T12:00:00.000Z',
    }),
    serverMessage('post_tweet', { movie_id: 1, tweet }),
    serverMessage('reconnect', { host: 'ep2.example.net', port: 7001, tls: true, reason: 'draining' }),
    serverMessage('error', {
      code: 'unknown_movie',
      message: 'no movie 9; pick one from set_movies',
      action: 'start_feed',
    }),
    serverMessage('error', { code: 'idle_timeout', message: 'no message for 300 s' }),
    serverMessage('pong', { id: 'p1' }),
    serverMessage('pong', {}),
  ];
  for (const msg of valid) {
    it(`accepts ${msg.action} ${JSON.stringify(msg.params).slice(0, 40)}`, () => {
      expect(parseServerMessage(msg)).toEqual({ ok: true, message: msg });
    });
  }

  const invalid: Array<[string, unknown]> = [
    [
      'set_movies',
      { movies: [{ id: 1, title: 'Dune', count: -1 }], window_s: 3600, at: '2024-10-26T12:00:00Z' },
    ],
    ['set_movies', { movies: [], window_s: 3600, at: 'yesterday' }],
    [
      'set_movies',
      { movies: [{ id: '1', title: 'Dune', count: 1 }], window_s: 3600, at: '2024-10-26T12:00:00Z' },
    ],
    ['post_tweet', { movie_id: 1, tweet: { ...tweet, user: { name: 'Ann' } } }],
    ['post_tweet', { movie_id: 1, tweet: { ...tweet, id: 1850000000000000 } }],
    ['reconnect', { host: 'h', port: '7001', tls: true, reason: 'x' }],
    ['reconnect', { host: 'h', port: 7001, reason: 'x' }],
    ['error', { code: 'oops', message: 'x' }],
    ['error', { code: 'rate_limited' }],
    ['pong', { id: nested(MAX_ECHO_DEPTH + 1) }],
  ];
  for (const [action, params] of invalid) {
    it(`rejects ${action} ${JSON.stringify(params).slice(0, 60)}`, () => {
      expect(parseServerMessage({ action, params })).toMatchObject({
        ok: false,
        code: 'invalid_message',
        action,
      });
    });
  }

  it('refuses client actions', () => {
    expect(parseServerMessage({ action: 'connect', params: { client } })).toMatchObject({
      ok: false,
      code: 'unknown_action',
    });
  });
});

describe('error codes', () => {
  it('closes the connection exactly for line_too_long, slow_consumer, server_full, too_many_connections, idle_timeout, connect_timeout', () => {
    expect(ErrorCodeSchema.options).toHaveLength(ERROR_CODES_KEEP_OPEN.length + ERROR_CODES_CLOSE.length);
    for (const code of ERROR_CODES_KEEP_OPEN) expect(closesConnection(code)).toBe(false);
    for (const code of [
      'line_too_long',
      'slow_consumer',
      'server_full',
      'too_many_connections',
      'idle_timeout',
      'connect_timeout',
    ] as const) {
      expect(closesConnection(code)).toBe(true);
    }
    expect([...ERROR_CODES_KEEP_OPEN]).toEqual([
      'invalid_json',
      'invalid_message',
      'unknown_action',
      'not_connected',
      'unknown_movie',
      'rate_limited',
      'unavailable',
    ]);
  });
});

describe('protocol/index.ts', () => {
  it('re-exports messages, ndjson and the Redis contract', () => {
    for (const name of [
      'parseClientMessage',
      'parseServerMessage',
      'MAX_LINE_BYTES',
      'LineDecoder',
      'MessageDecoder',
      'encodeMessage',
      'encodeLine',
      'serverMessage',
      'redisContract',
      'DEFAULT_PREFIX',
    ]) {
      expect(protocol).toHaveProperty(name);
    }
  });
});

describe('PROTOCOL.md examples', () => {
  const doc = readFileSync(new URL('../../protocol/PROTOCOL.md', import.meta.url), 'utf8');

  it('every JSON example block is a valid message', () => {
    // one message per line (1.1 added blocks with a 1.0 and a 1.1 example)
    const blocks = [...doc.matchAll(/```json\n(.*?)\n```/gs)].flatMap((m) =>
      m[1]!.split('\n').map((l) => JSON.parse(l) as unknown),
    );
    expect(blocks.length).toBe(18);
    for (const value of blocks) {
      const asClient = parseClientMessage(value);
      const asServer = parseServerMessage(value);
      expect(asClient.ok || asServer.ok, JSON.stringify(value)).toBe(true);
    }
  });

  it('the example session decodes as written, and the server lines are exactly what the encoder writes', () => {
    const lines = [...doc.matchAll(/^([CS]): (.*)$/gm)];
    expect(lines.length).toBeGreaterThan(8);
    const results = lines.map(([, who, line]) => {
      if (who === 'C') {
        const r = decodeLine(line);
        return r.ok ? 'ok' : r.code;
      }
      const r = decodeLine(line, parseServerMessage);
      if (r.ok) expect(messageLine(r.message)).toBe(`${line}\n`);
      return r.ok ? 'ok' : r.code;
    });
    // One client line is deliberately wrong: movie_id as a string.
    expect(results.filter((r) => r !== 'ok')).toEqual(['invalid_message']);
    const bad = lines.find(([, , line]) => line.includes('"movie_id":"42"'))!;
    const error = lines[lines.indexOf(bad) + 1][2];
    const actual = decodeLine(bad[2]);
    expect(actual.ok).toBe(false);
    expect(JSON.parse(error).params.message).toBe((actual as { message: string }).message);
  });
});
