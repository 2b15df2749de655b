// Newline-delimited JSON framing for wire protocol v1: a streaming line decoder with a hard line limit,
// a message decoder on top of it, and an encoder that serializes a message once into a shareable Buffer.
import { isUtf8 } from 'node:buffer';
import {
  type ClientAction,
  type ClientMessage,
  type ClientParamsOf,
  MAX_LINE_BYTES,
  type ParseResult,
  parseClientMessage,
  type ServerAction,
  type ServerMessage,
  type ServerParamsOf,
} from './messages.ts';

const LF = 0x0a;
const CR = 0x0d;
/** Smallest buffer allocated for a partial line. */
const MIN_PENDING = 256;

// ---------------------------------------------------------------------------------------------------------
// Line decoder
// ---------------------------------------------------------------------------------------------------------

export type LineTooLong = {
  code: 'line_too_long';
  message: string;
  /** The limit in bytes (without the line ending). */
  limit: number;
  /** Bytes of the line seen when it was refused (more than `limit`; the rest is never read). */
  bytes: number;
};
export type LineDecoderError = LineTooLong;

/** After an over-long line: `'stop'` ignores all further input (the caller closes the connection), `'skip'`
 * discards bytes up to the next newline and then goes on decoding. */
export type OverflowPolicy = 'stop' | 'skip';

export interface LineDecoderOptions {
  /** Longest accepted line in bytes, without `\n` / `\r\n`. Default MAX_LINE_BYTES (64 KiB). */
  maxLineBytes?: number;
  /** Default `'stop'`. */
  overflow?: OverflowPolicy;
  /** One complete, non-empty line without its `\n` / `\r\n`. When the whole line lies in one chunk this is a
   * view into that chunk (no copy): copy it if you keep it and reuse chunk buffers. */
  onLine: (line: Buffer) => void;
  /** Called once per over-long line, as soon as the partial line exceeds the limit. */
  onError?: (error: LineDecoderError) => void;
}

export function lineTooLong(limit: number, bytes: number): LineTooLong {
  return {
    code: 'line_too_long',
    message: `line longer than ${limit} bytes; send one JSON message per line, each at most ${limit} bytes`,
    limit,
    bytes,
  };
}

/**
 * Splits a byte stream into lines. Push-based: feed it every chunk as it arrives; complete lines go to
 * `onLine`. Never throws on any input (exceptions thrown by the callbacks propagate, and the rest of that
 * chunk is dropped). Splitting happens on bytes, so UTF-8 characters split across chunks are reassembled
 * intact. Memory stays bounded: at most `maxLineBytes + 1` bytes of a partial line are kept, and every byte
 * is scanned once.
 */
export class LineDecoder {
  readonly maxLineBytes: number;
  readonly overflow: OverflowPolicy;
  private readonly onLine: (line: Buffer) => void;
  private readonly onError: (error: LineDecoderError) => void;
  /** The partial line (no newline in it): `pending[0, pendingLength)`. */
  private pending: Buffer | null = null;
  private pendingLength = 0;
  /** Discarding the rest of an over-long line (`'skip'`). */
  private skipping = false;
  private isStopped = false;

  constructor(options: LineDecoderOptions) {
    const max = options.maxLineBytes ?? MAX_LINE_BYTES;
    if (!Number.isSafeInteger(max) || max < 1) {
      throw new RangeError(`maxLineBytes must be a positive integer, got ${max}`);
    }
    this.maxLineBytes = max;
    this.overflow = options.overflow ?? 'stop';
    this.onLine = options.onLine;
    this.onError = options.onError ?? (() => {});
  }

  /** Bytes of a partial line held between chunks (at most `maxLineBytes + 1`). */
  get bufferedBytes(): number {
    return this.pendingLength;
  }

  /** True after an over-long line with `overflow: 'stop'`: further input is ignored. */
  get stopped(): boolean {
    return this.isStopped;
  }

  push(chunk: Uint8Array | string): void {
    if (this.isStopped) return;
    let buf: Buffer;
    if (Buffer.isBuffer(chunk)) buf = chunk;
    else if (chunk instanceof Uint8Array) buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    else if (typeof chunk === 'string') buf = Buffer.from(chunk, 'utf8');
    else return;
    const end = buf.length;
    let start = 0;
    while (start < end) {
      const nl = buf.indexOf(LF, start);
      if (nl === -1) {
        this.keep(buf, start, end);
        return;
      }
      if (this.skipping) {
        this.skipping = false;
        start = nl + 1;
        continue;
      }
      let line: Buffer;
      if (this.pendingLength === 0) {
        line = buf.subarray(start, nl);
      } else {
        const total = this.pendingLength + (nl - start);
        if (total > this.maxLineBytes + 1) {
          // Over long even with a `\r` to strip; do not assemble it.
          this.dropPending();
          start = nl + 1;
          if (this.refuse(total)) return;
          continue;
        }
        this.append(buf, start, nl);
        line = this.pending!.subarray(0, this.pendingLength);
        // Hand the buffer over with the line; the next partial line gets a new one.
        this.pending = null;
        this.pendingLength = 0;
      }
      start = nl + 1;
      if (this.emit(line)) return;
    }
  }

  /** End of stream: drops a partial line (it had no newline) and returns its length in bytes. */
  end(): number {
    const dropped = this.pendingLength;
    this.dropPending();
    this.skipping = false;
    return dropped;
  }

  /** Emit one complete line; returns true when decoding must stop. */
  private emit(line: Buffer): boolean {
    let length = line.length;
    if (length > 0 && line[length - 1] === CR) length--;
    if (length === 0) return false;
    if (length > this.maxLineBytes) return this.refuse(length);
    this.onLine(length === line.length ? line : line.subarray(0, length));
    return false;
  }

  /** Keep `buf[start, end)` (no newline in it) as (more of) the partial line, unless that makes it too long. */
  private keep(buf: Buffer, start: number, end: number): void {
    if (this.skipping) return;
    const total = this.pendingLength + (end - start);
    // One byte over the limit is fine if it is the `\r` of a `\r\n` still to come.
    if (total > this.maxLineBytes + 1 || (total === this.maxLineBytes + 1 && buf[end - 1] !== CR)) {
      this.dropPending();
      if (!this.refuse(total)) this.skipping = true;
      return;
    }
    this.append(buf, start, end);
  }

  private append(buf: Buffer, start: number, end: number): void {
    const need = this.pendingLength + (end - start);
    if (this.pending === null || need > this.pending.length) {
      // Grow geometrically (amortized O(1) per byte), never beyond the largest acceptable partial line.
      const capacity = Math.min(
        Math.max(need, MIN_PENDING, (this.pending?.length ?? 0) * 2),
        Math.max(need, this.maxLineBytes + 1),
      );
      const grown = Buffer.allocUnsafe(capacity);
      if (this.pending !== null) this.pending.copy(grown, 0, 0, this.pendingLength);
      this.pending = grown;
    }
    buf.copy(this.pending, this.pendingLength, start, end);
    this.pendingLength = need;
  }

  private dropPending(): void {
    this.pending = null;
    this.pendingLength = 0;
  }

  /** Report an over-long line; returns true when decoding must stop. */
  private refuse(bytes: number): boolean {
    if (this.overflow === 'stop') this.isStopped = true;
    this.onError(lineTooLong(this.maxLineBytes, bytes));
    return this.isStopped;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Message decoder
// ---------------------------------------------------------------------------------------------------------

export type DecodeErrorCode = 'invalid_json' | 'invalid_message' | 'unknown_action' | 'line_too_long';
export type DecodeError = { ok: false; code: DecodeErrorCode; message: string; action?: string };
export type DecodeResult<M> = { ok: true; message: M } | DecodeError;
/** Validates one parsed JSON value: `parseClientMessage` (server side) or `parseServerMessage` (client SDK). */
export type MessageParser<M> = (value: unknown) => ParseResult<M>;

/** Longest excerpt of a JSON.parse error message passed on to the peer. */
const MAX_DETAIL = 160;

/** Decode one line (without its newline) into a message. Never throws (given a parser that never throws). */
export function decodeLine<M = ClientMessage>(
  line: Uint8Array | string,
  parse: MessageParser<M> = parseClientMessage as unknown as MessageParser<M>,
): DecodeResult<M> {
  let text: string;
  if (typeof line === 'string') {
    text = line;
  } else {
    if (!isUtf8(line)) {
      return { ok: false, code: 'invalid_json', message: 'line is not valid UTF-8; send UTF-8 encoded JSON' };
    }
    text = Buffer.from(line.buffer, line.byteOffset, line.byteLength).toString('utf8');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const detail = err instanceof Error ? err.message.slice(0, MAX_DETAIL) : 'parse error';
    return {
      ok: false,
      code: 'invalid_json',
      message: `line is not valid JSON (${detail}); send one JSON object per line`,
    };
  }
  return parse(value);
}

export interface MessageDecoderOptions<M> {
  /** One decoded message or error, in stream order. */
  onMessage: (result: DecodeResult<M>) => void;
  /** Default `parseClientMessage`; pass `parseServerMessage` to decode server messages (client SDK). */
  parse?: MessageParser<M>;
  /** Default MAX_LINE_BYTES; a client SDK decoding server lines should choose its own, larger limit. */
  maxLineBytes?: number;
  /** Default `'stop'`: after `line_too_long` nothing more is decoded (the endpoint closes the connection). */
  overflow?: OverflowPolicy;
}

/**
 * Decodes a byte stream into messages: `{ok: true, message}` for each valid line, `{ok: false, code, ...}`
 * for each bad one (`invalid_json`, `invalid_message`, `unknown_action`, `line_too_long`). Never throws on
 * any input. `M` defaults to ClientMessage; for any other `M` pass its `parse`.
 */
export class MessageDecoder<M = ClientMessage> {
  private readonly lines: LineDecoder;

  constructor(
    options: MessageDecoderOptions<M> & ([M] extends [ClientMessage] ? unknown : { parse: MessageParser<M> }),
  ) {
    const parse = options.parse ?? (parseClientMessage as unknown as MessageParser<M>);
    const onMessage = options.onMessage;
    this.lines = new LineDecoder({
      maxLineBytes: options.maxLineBytes,
      overflow: options.overflow,
      onLine: (line) => onMessage(decodeLine(line, parse)),
      onError: (error) => onMessage({ ok: false, code: error.code, message: error.message }),
    });
  }

  get maxLineBytes(): number {
    return this.lines.maxLineBytes;
  }

  /** Bytes of a partial line held between chunks (at most `maxLineBytes + 1`). */
  get bufferedBytes(): number {
    return this.lines.bufferedBytes;
  }

  /** True after `line_too_long` with `overflow: 'stop'`: further input is ignored. */
  get stopped(): boolean {
    return this.lines.stopped;
  }

  push(chunk: Uint8Array | string): void {
    this.lines.push(chunk);
  }

  /** End of stream: drops a partial line (it had no newline) and returns its length in bytes. */
  end(): number {
    return this.lines.end();
  }
}

// ---------------------------------------------------------------------------------------------------------
// Encoder
// ---------------------------------------------------------------------------------------------------------

export type ServerMessageOf<A extends ServerAction> = Extract<ServerMessage, { action: A }>;
export type ClientMessageOf<A extends ClientAction> = Extract<ClientMessage, { action: A }>;

/** `JSON.stringify(value) + '\n'`. Throws TypeError if `value` has no JSON form (undefined, a function, a
 * symbol) and whatever JSON.stringify throws (cycles, BigInt). JSON.stringify escapes every newline and lone
 * surrogate, so the line is one line of valid UTF-8. */
export function lineString(value: unknown): string {
  const json = JSON.stringify(value);
  if (typeof json !== 'string') throw new TypeError(`cannot encode ${typeof value} as a JSON line`);
  return json + '\n';
}

/** One JSON line as a Buffer (JSON + `\n`). */
export function encodeLine(value: unknown): Buffer {
  return Buffer.from(lineString(value), 'utf8');
}

/** The wire line of a message as a string, `\n` included: `{"action":…,"params":{…}}\n`. Only `action` and
 * `params` are written, and `params` always (`{}` when missing). For pre-serialized lines such as the
 * `post_tweet` lines the feeder publishes in Redis. */
export function messageLine(message: ServerMessage | ClientMessage): string {
  return lineString({ action: message.action, params: message.params ?? {} });
}

/** The wire line of a message, serialized once: write the same Buffer to every socket that should get it. */
export function encodeMessage(message: ServerMessage | ClientMessage): Buffer {
  return Buffer.from(messageLine(message), 'utf8');
}

/** A typed server message: `serverMessage('pong', { id })`. */
export function serverMessage<A extends ServerAction>(
  action: A,
  params: ServerParamsOf[A],
): ServerMessageOf<A> {
  return { action, params } as ServerMessageOf<A>;
}

/** A typed client message: `clientMessage('start_feed', { movie_id: 7 })`. */
export function clientMessage<A extends ClientAction>(
  action: A,
  params: ClientParamsOf[A],
): ClientMessageOf<A> {
  return { action, params } as ClientMessageOf<A>;
}

/** Shorthand for `encodeMessage(serverMessage(action, params))`. */
export function encodeServerMessage<A extends ServerAction>(action: A, params: ServerParamsOf[A]): Buffer {
  return encodeMessage(serverMessage(action, params));
}
