import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type ClientMessage,
  ErrorCodeSchema,
  MAX_LINE_BYTES,
  parseServerMessage,
  type ServerMessage,
} from '../../protocol/messages.ts';
import {
  clientMessage,
  type DecodeErrorCode,
  type DecodeResult,
  decodeLine,
  encodeLine,
  encodeMessage,
  encodeServerMessage,
  MessageDecoder,
  messageLine,
  type OverflowPolicy,
  serverMessage,
} from '../../protocol/ndjson.ts';

function clientDecoder(overflow?: OverflowPolicy, maxLineBytes?: number) {
  const results: DecodeResult<ClientMessage>[] = [];
  const decoder = new MessageDecoder({ overflow, maxLineBytes, onMessage: (r) => results.push(r) });
  return { decoder, results };
}

function serverDecoder() {
  const results: DecodeResult<ServerMessage>[] = [];
  const decoder = new MessageDecoder({
    parse: parseServerMessage,
    maxLineBytes: 1 << 20,
    onMessage: (r) => results.push(r),
  });
  return { decoder, results };
}

function decodeAll(stream: Buffer, chunks: Buffer[] = [stream]) {
  const { decoder, results } = clientDecoder();
  for (const chunk of chunks) decoder.push(chunk);
  return results;
}

function splitAt(buf: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let prev = 0;
  for (const p of [...points, buf.length]) {
    chunks.push(buf.subarray(prev, p));
    prev = p;
  }
  return chunks;
}

/** JSON values survive a JSON round trip unchanged (no -0, no undefined). */
const jsonArb = fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.parse(JSON.stringify(v)) as unknown);
const textArb = fc.string({ unit: 'binary', maxLength: 20 });
const intArb = fc.integer({ min: -1_000_000, max: 1_000_000_000 });
const isoArb = fc
  .date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true })
  .map((d) => d.toISOString());

const clientMessageArb: fc.Arbitrary<ClientMessage> = fc.oneof(
  fc
    .record(
      {
        client: fc.record(
          { app: textArb, version: textArb, platform: textArb },
          { requiredKeys: ['app', 'version'] },
        ),
        protocol: fc.constant(1 as const),
      },
      { requiredKeys: ['client'] },
    )
    .map((params) => clientMessage('connect', params)),
  fc.record({ movie_id: intArb }).map((params) => clientMessage('start_feed', params)),
  fc.record({ movie_id: jsonArb }, { requiredKeys: [] }).map((params) => clientMessage('stop_feed', params)),
  fc.record({ id: jsonArb }, { requiredKeys: [] }).map((params) => clientMessage('ping', params)),
);

const tweetArb = fc.record({
  id: fc.stringMatching(/^[0-9]{1,19}$/),
  text: fc.string({ unit: 'binary', maxLength: 140 }),
  created_at: isoArb,
  user: fc.record({ name: textArb, screen_name: textArb }),
});
const serverMessageArb: fc.Arbitrary<ServerMessage> = fc.oneof(
  fc
    .record({
      movies: fc.array(fc.record({ id: intArb, title: textArb, count: fc.nat() }), { maxLength: 5 }),
      window_s: fc.constant(3600),
      at: isoArb,
    })
    .map((params) => serverMessage('set_movies', params)),
  fc.record({ movie_id: intArb, tweet: tweetArb }).map((params) => serverMessage('post_tweet', params)),
  fc
    .record({ host: textArb, port: fc.integer({ min: 1, max: 65535 }), tls: fc.boolean(), reason: textArb })
    .map((params) => serverMessage('reconnect', params)),
  fc
    .record(
      { code: fc.constantFrom(...ErrorCodeSchema.options), message: textArb, action: textArb },
      { requiredKeys: ['code', 'message'] },
    )
    .map((params) => serverMessage('error', params)),
  fc.record({ id: jsonArb }, { requiredKeys: [] }).map((params) => serverMessage('pong', params)),
);

/** One client message written the way a client might: with or without empty params, extra keys, \r\n. */
const clientFrameArb = fc
  .record({
    message: clientMessageArb,
    omitEmptyParams: fc.boolean(),
    extra: fc.option(fc.dictionary(fc.constantFrom('id', 'v', 'meta'), jsonArb), { nil: undefined }),
    ending: fc.constantFrom('\n', '\r\n'),
    blankBefore: fc.boolean(),
  })
  .map(({ message, omitEmptyParams, extra, ending, blankBefore }) => {
    const wire: Record<string, unknown> = { ...extra, action: message.action };
    if (!(omitEmptyParams && Object.keys(message.params).length === 0)) wire.params = message.params;
    return { message, text: (blankBefore ? '\r\n' : '') + JSON.stringify(wire) + ending };
  });

describe('MessageDecoder', () => {
  it('decodes any split of a valid stream to the same messages', () => {
    fc.assert(
      fc.property(
        fc.array(clientFrameArb, { maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 30 }),
        (frames, cuts) => {
          const stream = Buffer.from(frames.map((f) => f.text).join(''), 'utf8');
          const results = decodeAll(stream, splitAt(stream, cuts));
          expect(results).toEqual(frames.map((f) => ({ ok: true, message: f.message })));
        },
      ),
    );
  });

  it('decodes every two-chunk split of a stream with multibyte text and \\r\\n the same', () => {
    const stream = Buffer.from(
      '{"action":"connect","params":{"client":{"app":"фильм🎬","version":"1.0"}}}\r\n' +
        '{"action":"start_feed","params":{"movie_id":7}}\r\n{"action":"ping","params":{"id":"€"}}\n',
      'utf8',
    );
    const whole = decodeAll(stream);
    expect(whole.map((r) => r.ok)).toEqual([true, true, true]);
    for (let i = 0; i <= stream.length; i++) {
      expect(decodeAll(stream, [stream.subarray(0, i), stream.subarray(i)])).toEqual(whole);
    }
  });

  it('never throws on random bytes and keeps its buffer bounded', () => {
    const byteArb = fc.oneof(
      fc.constantFrom(0x0a, 0x0d, 0x7b, 0x22, 0xe2, 0xff),
      fc.integer({ min: 0, max: 255 }),
    );
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 10 }),
        fc.array(byteArb, { maxLength: 100 }),
        fc.constantFrom<OverflowPolicy>('stop', 'skip'),
        fc.integer({ min: 1, max: 48 }),
        (chunks, extra, overflow, max) => {
          const { decoder, results } = clientDecoder(overflow, max);
          for (const chunk of [...chunks, Uint8Array.from(extra)]) {
            decoder.push(chunk);
            expect(decoder.bufferedBytes).toBeLessThanOrEqual(max + 1);
          }
          for (const r of results) {
            if (!r.ok)
              expect(['invalid_json', 'invalid_message', 'unknown_action', 'line_too_long']).toContain(
                r.code,
              );
          }
        },
      ),
    );
  });

  it('turns mutated valid frames into errors or messages, never exceptions', () => {
    const mutationArb = fc.oneof(
      fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
      fc.record({
        kind: fc.constant('insert' as const),
        at: fc.nat(),
        byte: fc.integer({ min: 0, max: 255 }),
      }),
      fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
      fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
    );
    fc.assert(
      fc.property(
        clientFrameArb,
        fc.array(mutationArb, { minLength: 1, maxLength: 4 }),
        (frame, mutations) => {
          const bytes = [...Buffer.from(frame.text, 'utf8')];
          for (const m of mutations) {
            const at = m.at % (bytes.length + 1);
            if (m.kind === 'flip') bytes[Math.min(at, bytes.length - 1)] = m.byte;
            else if (m.kind === 'insert') bytes.splice(at, 0, m.byte);
            else if (m.kind === 'delete') bytes.splice(at, 1);
            else bytes.length = at;
          }
          // A trailing valid frame proves the decoder is still in step after the damage.
          const stream = Buffer.concat([Buffer.from(bytes), Buffer.from('\n{"action":"ping"}\n')]);
          const results = decodeAll(stream);
          expect(results.at(-1)).toEqual({ ok: true, message: { action: 'ping', params: {} } });
          for (const r of results) {
            if (!r.ok) {
              expect(['invalid_json', 'invalid_message', 'unknown_action']).toContain(r.code);
              expect(r.message.length).toBeGreaterThan(0);
            }
          }
        },
      ),
    );
  });

  describe('every error code, by example', () => {
    const cases: Array<[DecodeErrorCode, string | Buffer, RegExp]> = [
      ['invalid_json', '{"action":"ping"', /not valid JSON/],
      ['invalid_json', 'hello', /not valid JSON/],
      ['invalid_json', Buffer.from([0x7b, 0xff, 0xfe, 0x7d, 0x0a]), /not valid UTF-8/],
      ['invalid_message', '[1,2]', /JSON object/],
      ['invalid_message', 'null', /JSON object/],
      ['invalid_message', '{"params":{}}', /"action" must be a string/],
      ['invalid_message', '{"action":7}', /"action" must be a string/],
      ['invalid_message', '{"action":"start_feed","params":{"movie_id":"7"}}', /params\.movie_id/],
      ['invalid_message', '{"action":"start_feed"}', /params\.movie_id/],
      ['unknown_action', '{"action":"dance","params":{}}', /unknown action "dance"/],
      ['unknown_action', '{"action":"pong"}', /unknown action "pong"/],
      [
        'line_too_long',
        `{"action":"ping","params":{"id":"${'x'.repeat(MAX_LINE_BYTES)}"}}`,
        /longer than 65536/,
      ],
    ];
    for (const [code, input, message] of cases) {
      it(`${code}: ${String(input).slice(0, 50)}`, () => {
        const bytes = typeof input === 'string' ? Buffer.from(`${input}\n`) : input;
        const results = decodeAll(bytes);
        expect(results).toHaveLength(1);
        expect(results[0]).toMatchObject({ ok: false, code });
        expect((results[0] as { message: string }).message).toMatch(message);
      });
    }

    it('names the action in invalid_message and unknown_action', () => {
      const [bad, unknown] = decodeAll(Buffer.from('{"action":"start_feed","params":{}}\n{"action":"x"}\n'));
      expect(bad).toMatchObject({ ok: false, code: 'invalid_message', action: 'start_feed' });
      expect(unknown).toMatchObject({ ok: false, code: 'unknown_action', action: 'x' });
    });

    it('keeps decoding after errors that keep the connection open', () => {
      const results = decodeAll(
        Buffer.from('nope\n[]\n{"action":"x"}\n{"action":"ping","params":{"id":1}}\n'),
      );
      expect(results.map((r) => (r.ok ? r.message.action : r.code))).toEqual([
        'invalid_json',
        'invalid_message',
        'unknown_action',
        'ping',
      ]);
    });

    it('stops after line_too_long by default (the endpoint closes)', () => {
      const { decoder, results } = clientDecoder();
      decoder.push(Buffer.alloc(MAX_LINE_BYTES + 2, 0x20));
      decoder.push(Buffer.from('\n{"action":"ping"}\n'));
      expect(results).toEqual([{ ok: false, code: 'line_too_long', message: expect.any(String) }]);
      expect(decoder.stopped).toBe(true);
    });

    it("can skip an over-long line and go on ('skip')", () => {
      const { decoder, results } = clientDecoder('skip', 20);
      decoder.push(Buffer.from('{"action":"ping","params":{"id":"long"}}\n{"action":"ping"}\n'));
      expect(results.map((r) => (r.ok ? r.message.action : r.code))).toEqual(['line_too_long', 'ping']);
    });
  });

  // kills surviving mutants (MUTATION.md): an over-long line assembled across chunks, then more lines
  it("skips an over-long line split across chunks and decodes the next ones ('skip')", () => {
    const { decoder, results } = clientDecoder('skip', 20);
    decoder.push(Buffer.from('{"action":"ping","par'));
    decoder.push(Buffer.from('ams":{"id":"long"}}\n{"action":"ping"}\n{"action":"ping"}\n'));
    expect(results.map((r) => (r.ok ? r.message.action : r.code))).toEqual(['line_too_long', 'ping', 'ping']);
  });

  it('stops at an over-long line split across chunks (default): the lines after it are not decoded', () => {
    const { decoder, results } = clientDecoder(undefined, 20);
    decoder.push(Buffer.from('{"action":"ping","par'));
    decoder.push(Buffer.from('ams":{"id":"long"}}\n{"action":"ping"}\n'));
    expect(results.map((r) => (r.ok ? r.message.action : r.code))).toEqual(['line_too_long']);
  });

  it('end() drops the partial line and says how long it was', () => {
    const { decoder, results } = clientDecoder();
    decoder.push(Buffer.from('{"action":"ping"}\n{"act'));
    expect(decoder.end()).toBe(5);
    expect(results).toHaveLength(1);
  });

  it('decodeLine works on a single line, as Buffer or string', () => {
    expect(decodeLine('{"action":"ping"}')).toEqual({ ok: true, message: { action: 'ping', params: {} } });
    expect(decodeLine(Buffer.from('{"action":"pong","params":{"id":2}}'), parseServerMessage)).toEqual({
      ok: true,
      message: { action: 'pong', params: { id: 2 } },
    });
    expect(decodeLine(new Uint8Array([0xc3]))).toMatchObject({ ok: false, code: 'invalid_json' });
  });

  it('decodes server messages for the client SDK', () => {
    const { decoder, results } = serverDecoder();
    decoder.push(Buffer.from('{"action":"pong","params":{"id":"a"}}\n{"action":"ping"}\n'));
    expect(results).toEqual([
      { ok: true, message: { action: 'pong', params: { id: 'a' } } },
      { ok: false, code: 'unknown_action', message: 'unknown action "ping"', action: 'ping' },
    ]);
    expect(decoder.maxLineBytes).toBe(1 << 20);
  });
});

describe('encoder', () => {
  it('round-trips every server message through the SDK decoder, in any split', () => {
    fc.assert(
      fc.property(
        fc.array(serverMessageArb, { maxLength: 6 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        (msgs, cuts) => {
          const stream = Buffer.concat(msgs.map(encodeMessage));
          const { decoder, results } = serverDecoder();
          for (const chunk of splitAt(stream, cuts)) decoder.push(chunk);
          expect(results).toEqual(msgs.map((message) => ({ ok: true, message })));
        },
      ),
    );
  });

  it('round-trips every client message', () => {
    fc.assert(
      fc.property(clientMessageArb, (msg) => {
        expect(decodeAll(encodeMessage(msg))).toEqual([{ ok: true, message: msg }]);
      }),
    );
  });

  it('writes exactly one line: JSON, then one \\n', () => {
    fc.assert(
      fc.property(serverMessageArb, (msg) => {
        const buf = encodeMessage(msg);
        expect(buf.indexOf(0x0a)).toBe(buf.length - 1);
        expect(buf.toString('utf8')).toBe(messageLine(msg));
        expect(JSON.parse(buf.toString('utf8'))).toEqual({ action: msg.action, params: msg.params });
      }),
    );
  });

  it('always writes params, and only action and params', () => {
    expect(encodeMessage(serverMessage('pong', {})).toString()).toBe('{"action":"pong","params":{}}\n');
    const sloppy = { action: 'pong', extra: 1 } as unknown as ServerMessage;
    expect(encodeMessage(sloppy).toString()).toBe('{"action":"pong","params":{}}\n');
    expect(encodeServerMessage('pong', { id: 7 }).toString()).toBe('{"action":"pong","params":{"id":7}}\n');
    expect(encodeMessage(clientMessage('stop_feed', {})).toString()).toBe(
      '{"action":"stop_feed","params":{}}\n',
    );
  });

  it('escapes newlines, U+2028 and lone surrogates so the line stays one line of valid UTF-8', () => {
    const text = 'a\nb\r\u2028\ud800z';
    const buf = encodeServerMessage('error', { code: 'rate_limited', message: text });
    expect(buf.indexOf(0x0a)).toBe(buf.length - 1);
    const { decoder, results } = serverDecoder();
    decoder.push(buf);
    expect(results).toEqual([
      { ok: true, message: { action: 'error', params: { code: 'rate_limited', message: text } } },
    ]);
  });

  it('encodeLine encodes any JSON value and refuses what has no JSON form', () => {
    expect(encodeLine({ a: [1, 'é'] }).toString('utf8')).toBe('{"a":[1,"é"]}\n');
    expect(encodeLine(null).toString()).toBe('null\n');
    expect(() => encodeLine(undefined)).toThrow(TypeError);
    expect(() => encodeLine(() => 1)).toThrow(TypeError);
    expect(() => encodeLine(1n)).toThrow(TypeError);
  });

  it('serverMessage / clientMessage build typed messages', () => {
    const pong = serverMessage('pong', { id: 'x' });
    expect(pong).toEqual({ action: 'pong', params: { id: 'x' } });
    const feed = clientMessage('start_feed', { movie_id: 3 });
    expect(feed.params.movie_id).toBe(3);
  });
});
