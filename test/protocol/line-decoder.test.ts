import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_LINE_BYTES } from '../../protocol/messages.ts';
import { LineDecoder, type LineDecoderError, type OverflowPolicy } from '../../protocol/ndjson.ts';

type Event = { line: string } | { error: 'line_too_long' };

function recorder(maxLineBytes?: number, overflow?: OverflowPolicy) {
  const events: Event[] = [];
  const errors: LineDecoderError[] = [];
  const lines: Buffer[] = [];
  const decoder = new LineDecoder({
    maxLineBytes,
    overflow,
    onLine: (line) => {
      lines.push(line);
      events.push({ line: line.toString('latin1') });
    },
    onError: (error) => {
      errors.push(error);
      events.push({ error: error.code });
    },
  });
  return { decoder, events, errors, lines };
}

/** Cut `buf` at the given offsets (taken modulo its length + 1). */
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

/** What the decoder must produce for a whole stream, in `'skip'` mode: split on `\n`, strip one `\r`, skip
 * empty lines, refuse lines over the limit; the unterminated tail yields an error only if it is already too
 * long to become acceptable. */
function reference(stream: Buffer, max: number): Event[] {
  const events: Event[] = [];
  const segments: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < stream.length; i++) {
    if (stream[i] === 0x0a) {
      segments.push(stream.subarray(start, i));
      start = i + 1;
    }
  }
  for (const seg of segments) {
    const content = seg.length > 0 && seg[seg.length - 1] === 0x0d ? seg.subarray(0, seg.length - 1) : seg;
    if (content.length === 0) continue;
    events.push(content.length > max ? { error: 'line_too_long' } : { line: content.toString('latin1') });
  }
  const tail = stream.subarray(start);
  if (tail.length > max + 1 || (tail.length === max + 1 && tail[tail.length - 1] !== 0x0d)) {
    events.push({ error: 'line_too_long' });
  }
  return events;
}

const cutsArb = fc.array(fc.nat(), { maxLength: 40 });

describe('LineDecoder examples', () => {
  it('splits several lines in one chunk, accepts \\r\\n and skips empty lines', () => {
    const { decoder, events } = recorder();
    decoder.push(Buffer.from('a\n\nbc\r\n\r\n\n{"x":1}\n'));
    expect(events).toEqual([{ line: 'a' }, { line: 'bc' }, { line: '{"x":1}' }]);
    expect(decoder.bufferedBytes).toBe(0);
  });

  it('joins a line split across chunks, also between \\r and \\n', () => {
    const { decoder, events } = recorder();
    for (const part of ['ab', 'c', 'd\r', '\nef', '\r', '\n']) decoder.push(Buffer.from(part));
    expect(events).toEqual([{ line: 'abcd' }, { line: 'ef' }]);
  });

  it('reassembles a UTF-8 character split across chunks', () => {
    const bytes = Buffer.from('{"t":"€𝄞"}\n', 'utf8');
    for (let i = 1; i < bytes.length; i++) {
      const { decoder, lines } = recorder();
      decoder.push(bytes.subarray(0, i));
      decoder.push(bytes.subarray(i));
      expect(lines.map((l) => l.toString('utf8'))).toEqual(['{"t":"€𝄞"}']);
    }
  });

  it('hands out a view of the chunk (no copy) when a line lies in one chunk', () => {
    const { decoder, lines } = recorder();
    const chunk = Buffer.from('hello\nworld\n');
    decoder.push(chunk);
    expect(lines).toHaveLength(2);
    for (const line of lines) expect(line.buffer).toBe(chunk.buffer);
    expect(lines[1].byteOffset).toBe(chunk.byteOffset + 6);
  });

  it('copies a partial line instead of pinning the chunk it came from', () => {
    const { decoder, lines } = recorder();
    const first = Buffer.from('{"big":1}\nab');
    const second = Buffer.from('c\n');
    decoder.push(first);
    expect(decoder.bufferedBytes).toBe(2);
    first.fill(0x2a); // the caller reuses its buffer
    decoder.push(second);
    // The first line was a view into the reused buffer; the partial line had been copied.
    expect(lines.map((l) => l.toString())).toEqual(['*********', 'abc']);
  });

  it('accepts Uint8Array and string chunks, ignores empty ones and non-bytes', () => {
    const { decoder, events } = recorder();
    decoder.push(new Uint8Array([0x61, 0x62]));
    decoder.push(new Uint8Array(0));
    decoder.push('c\nd');
    decoder.push(null as unknown as Uint8Array);
    decoder.push(42 as unknown as Uint8Array);
    decoder.push('\n');
    expect(events).toEqual([{ line: 'abc' }, { line: 'd' }]);
  });

  it('end() drops an unterminated line and reports its size', () => {
    const { decoder, events } = recorder();
    decoder.push(Buffer.from('x\npartial'));
    expect(decoder.end()).toBe(7);
    expect(decoder.bufferedBytes).toBe(0);
    decoder.push(Buffer.from('y\n'));
    expect(events).toEqual([{ line: 'x' }, { line: 'y' }]);
  });

  it('rejects a nonsensical limit at construction', () => {
    expect(() => new LineDecoder({ maxLineBytes: 0, onLine: () => {} })).toThrow(RangeError);
    expect(() => new LineDecoder({ maxLineBytes: 1.5, onLine: () => {} })).toThrow(RangeError);
  });
});

describe('LineDecoder line limit', () => {
  it('defaults to MAX_LINE_BYTES (64 KiB) and stops after an over-long line', () => {
    const { decoder, events, errors } = recorder();
    expect(decoder.maxLineBytes).toBe(MAX_LINE_BYTES);
    expect(decoder.overflow).toBe('stop');
    decoder.push(Buffer.from(`${'a'.repeat(MAX_LINE_BYTES)}\r\n`));
    decoder.push(Buffer.from(`${'b'.repeat(MAX_LINE_BYTES + 1)}\nafter\n`));
    expect(events.map((e) => ('line' in e ? e.line.length : e.error))).toEqual([
      MAX_LINE_BYTES,
      'line_too_long',
    ]);
    expect(errors[0]).toMatchObject({
      code: 'line_too_long',
      limit: MAX_LINE_BYTES,
      bytes: MAX_LINE_BYTES + 1,
    });
    expect(errors[0].message).toContain(`${MAX_LINE_BYTES} bytes`);
    expect(decoder.stopped).toBe(true);
    decoder.push(Buffer.from('more\n'));
    expect(events).toHaveLength(2);
  });

  it('refuses as soon as the partial line is too long, before any newline', () => {
    const { decoder, errors } = recorder(10);
    decoder.push(Buffer.from('0123456789'));
    expect(errors).toHaveLength(0);
    decoder.push(Buffer.from('\r'));
    expect(errors).toHaveLength(0); // may still be 10 bytes + \r\n
    decoder.push(Buffer.from('x'));
    expect(errors).toHaveLength(1);
    expect(decoder.bufferedBytes).toBe(0);
  });

  it('accepts exactly the limit with \\r\\n split between chunks', () => {
    const { decoder, events } = recorder(10);
    decoder.push(Buffer.from('0123456789\r'));
    decoder.push(Buffer.from('\n'));
    expect(events).toEqual([{ line: '0123456789' }]);
  });

  it('refuses limit + 1 bytes not followed by \\r\\n', () => {
    const { decoder, events } = recorder(10);
    decoder.push(Buffer.from('0123456789a'));
    expect(events).toEqual([{ error: 'line_too_long' }]);
  });

  it("'skip' discards up to the next newline and goes on", () => {
    const { decoder, events } = recorder(4, 'skip');
    decoder.push(Buffer.from('ok\ntoolong'));
    decoder.push(Buffer.from('stillthesameline'));
    decoder.push(Buffer.from('\r\nnext\n12345\nlast\n'));
    expect(events).toEqual([
      { line: 'ok' },
      { error: 'line_too_long' },
      { line: 'next' },
      { error: 'line_too_long' },
      { line: 'last' },
    ]);
    expect(decoder.stopped).toBe(false);
  });

  it('keeps memory bounded while a peer streams megabytes without a newline', () => {
    const { decoder, errors } = recorder(undefined, 'skip');
    const chunk = Buffer.alloc(64 * 1024, 0x7b);
    let maxBuffered = 0;
    for (let i = 0; i < 256; i++) {
      decoder.push(chunk); // 16 MiB in total
      maxBuffered = Math.max(maxBuffered, decoder.bufferedBytes);
    }
    expect(errors).toHaveLength(1);
    expect(maxBuffered).toBeLessThanOrEqual(MAX_LINE_BYTES + 1);
    expect(decoder.bufferedBytes).toBe(0);
    decoder.push(Buffer.from('\nfine\n'));
    expect(errors).toHaveLength(1);
  });

  it('assembles a long line trickled in small chunks', () => {
    const { decoder, lines } = recorder(1 << 20);
    const piece = Buffer.alloc(16, 0x61);
    for (let i = 0; i < 65_536; i++) decoder.push(piece); // 1 MiB in 16-byte chunks
    decoder.push(Buffer.from('\n'));
    expect(lines).toHaveLength(1);
    expect(lines[0].length).toBe(1 << 20);
  });
});

describe('LineDecoder properties', () => {
  const lineArb = fc
    .string({ unit: 'binary', minLength: 1, maxLength: 30 })
    .map((s) => s.replace(/[\r\n]/g, ''))
    .filter((s) => s.length > 0);
  const frameArb = fc.record({
    line: lineArb,
    ending: fc.constantFrom('\n', '\r\n'),
    blanks: fc.array(fc.constantFrom('\n', '\r\n'), { maxLength: 2 }),
  });

  it('decodes any split of a stream of lines to the same lines', () => {
    fc.assert(
      fc.property(fc.array(frameArb, { maxLength: 12 }), cutsArb, (frames, cuts) => {
        const stream = Buffer.from(frames.map((f) => f.blanks.join('') + f.line + f.ending).join(''), 'utf8');
        const { decoder, lines } = recorder();
        for (const chunk of splitAt(stream, cuts)) decoder.push(chunk);
        expect(lines.map((l) => l.toString('utf8'))).toEqual(frames.map((f) => f.line));
        expect(decoder.bufferedBytes).toBe(0);
      }),
    );
  });

  it('decodes byte-by-byte like in one piece', () => {
    fc.assert(
      fc.property(fc.array(frameArb, { maxLength: 6 }), (frames) => {
        const stream = Buffer.from(frames.map((f) => f.line + f.ending).join(''), 'utf8');
        const whole = recorder();
        whole.decoder.push(stream);
        const bytes = recorder();
        for (let i = 0; i < stream.length; i++) bytes.decoder.push(stream.subarray(i, i + 1));
        expect(bytes.events).toEqual(whole.events);
      }),
    );
  });

  // Bytes biased towards the interesting ones: \n, \r and a UTF-8 lead byte.
  const byteArb = fc.oneof(fc.constantFrom(0x0a, 0x0d, 0x61, 0xe2), fc.integer({ min: 0, max: 255 }));
  const streamArb = fc.array(byteArb, { maxLength: 300 }).map((a) => Buffer.from(a));

  it("matches the reference model on random bytes, random splits and limits ('skip')", () => {
    fc.assert(
      fc.property(streamArb, cutsArb, fc.integer({ min: 1, max: 24 }), (stream, cuts, max) => {
        const { decoder, events } = recorder(max, 'skip');
        for (const chunk of splitAt(stream, cuts)) {
          decoder.push(chunk);
          expect(decoder.bufferedBytes).toBeLessThanOrEqual(max + 1);
        }
        expect(events).toEqual(reference(stream, max));
      }),
    );
  });

  it("stops at the first error in 'stop' mode and never throws", () => {
    fc.assert(
      fc.property(streamArb, cutsArb, fc.integer({ min: 1, max: 24 }), (stream, cuts, max) => {
        const { decoder, events } = recorder(max, 'stop');
        for (const chunk of splitAt(stream, cuts)) {
          decoder.push(chunk);
          expect(decoder.bufferedBytes).toBeLessThanOrEqual(max + 1);
        }
        const expected = reference(stream, max);
        const firstError = expected.findIndex((e) => 'error' in e);
        expect(events).toEqual(firstError === -1 ? expected : expected.slice(0, firstError + 1));
        expect(decoder.stopped).toBe(firstError !== -1);
      }),
    );
  });
});
