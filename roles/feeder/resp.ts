// A raw RESP connection for the publish path (`--publish-mode resp`). Profiles showed the feeder spending most
// of its CPU in ioredis' per-command objects and promises, so a batch of publications is encoded straight into
// one Buffer (RespBatch) and written at once; replies are only counted and checked for errors. The commands
// are still produced by queueTweetBatch (protocol/redis-writes.ts), so what lands in Redis is what queueTweet
// writes. Connection handling as for the roles' ioredis connections: AUTH/SELECT from the URL, rediss:// with
// the same TLS options, reconnect with capped jittered backoff; with a Sentinel set each attempt first asks the
// sentinels for the master, and a READONLY reply (the master was demoted) reconnects. Nothing is queued while disconnected: the
// Publisher keeps the bounded buffer.
import { EventEmitter } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import type { TweetCommands } from '../../protocol/redis-writes.ts';
import { describeRedisDeployment, type RedisDeployment } from '../../kernel/redis-deployment.ts';
import { asDeployment, findMaster, tlsOptions } from '../../protocol/redis-connection.ts';
import { reconnectDelay } from '../runtime/redis.ts';

const cmdHead = (argc: number, name: string) => Buffer.from(`*${argc}\r\n$${name.length}\r\n${name}\r\n`);
const PUBLISH = cmdHead(3, 'PUBLISH');
const LTRIM = cmdHead(4, 'LTRIM');
const EXPIRE = cmdHead(3, 'EXPIRE');
const HINCRBY = cmdHead(4, 'HINCRBY');
const LPUSH_NAME = Buffer.from('$5\r\nLPUSH\r\n');

/** RESP commands encoded into one growing Buffer. */
export class RespBatch implements TweetCommands {
  private buf: Buffer;
  length = 0;
  /** commands encoded so far (each gets one reply) */
  commands = 0;

  /** `buf`: a buffer to encode into (e.g. one from an earlier batch whose replies are all in) */
  constructor(sizeHint = 64 * 1024, buf?: Buffer) {
    this.buf = buf && buf.length >= sizeHint ? buf : Buffer.allocUnsafe(Math.max(1024, sizeHint));
  }

  /** The whole buffer, for reuse once Redis has replied to every command of this batch. */
  get buffer(): Buffer {
    return this.buf;
  }

  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.length + n));
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }

  private raw(b: Buffer): void {
    this.room(b.length);
    b.copy(this.buf, this.length);
    this.length += b.length;
  }

  /** `<prefix><n>\r\n` with the digits written by hand (Buffer#write costs more than the whole number) */
  private intLine(prefix: number, n: number): void {
    this.room(24);
    const b = this.buf;
    let at = this.length;
    b[at++] = prefix;
    if (n < 0) {
      b[at++] = 0x2d;
      n = -n;
    }
    let digits = 1;
    for (let x = n; x >= 10; x = Math.floor(x / 10)) digits++;
    for (let i = digits - 1; i >= 0; i--) {
      b[at + i] = 0x30 + (n % 10);
      n = Math.floor(n / 10);
    }
    at += digits;
    b[at++] = 13;
    b[at++] = 10;
    this.length = at;
  }

  /** `*argc\r\n` */
  private head(argc: number): void {
    this.intLine(0x2a, argc);
  }

  /** A bulk string. Short ASCII strings (keys, numbers) are copied by hand, the rest by Buffer#write. */
  private str(s: string): void {
    const start = this.length;
    if (s.length < 256) {
      this.intLine(0x24, s.length);
      this.room(s.length + 2);
      const b = this.buf;
      let at = this.length;
      let ascii = true;
      for (let i = 0; i < s.length; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) {
          ascii = false;
          break;
        }
        b[at++] = c;
      }
      if (ascii) {
        b[at++] = 13;
        b[at++] = 10;
        this.length = at;
        return;
      }
      this.length = start; // not ASCII: the byte length differs, write it again the slow way
    }
    const n = Buffer.byteLength(s, 'utf8');
    this.intLine(0x24, n);
    this.room(n + 2);
    this.length += this.buf.write(s, this.length, 'utf8');
    this.buf[this.length++] = 13;
    this.buf[this.length++] = 10;
  }

  /** A number as a bulk string. */
  private int(n: number): void {
    if (!Number.isSafeInteger(n)) {
      this.str(String(n));
      return;
    }
    const neg = n < 0;
    let v = neg ? -n : n;
    let digits = 1;
    for (let x = v; x >= 10; x = Math.floor(x / 10)) digits++;
    this.intLine(0x24, digits + (neg ? 1 : 0));
    this.room(digits + 3);
    const b = this.buf;
    let at = this.length;
    if (neg) b[at++] = 0x2d;
    for (let i = digits - 1; i >= 0; i--) {
      b[at + i] = 0x30 + (v % 10);
      v = Math.floor(v / 10);
    }
    at += digits;
    b[at++] = 13;
    b[at++] = 10;
    this.length = at;
  }

  private bytes(b: Buffer): void {
    this.intLine(0x24, b.length);
    this.room(b.length + 2);
    b.copy(this.buf, this.length);
    this.length += b.length;
    this.buf[this.length++] = 13;
    this.buf[this.length++] = 10;
  }

  /** Any command, arguments as given (numbers in decimal). */
  command(...args: Array<string | Buffer | number>): void {
    this.head(args.length);
    for (const a of args) {
      if (typeof a === 'string') this.str(a);
      else if (typeof a === 'number') this.int(a);
      else this.bytes(a);
    }
    this.commands++;
  }

  /** EVAL: the publish script of protocol/redis-writes.ts (its text is cached by Redis; no NOSCRIPT to handle). */
  eval(script: string, numkeys: number, ...args: Array<string | Buffer>): void {
    this.command('EVAL', script, numkeys, ...args);
  }

  publish(channel: string, message: Buffer): void {
    this.raw(PUBLISH);
    this.str(channel);
    this.bytes(message);
    this.commands++;
  }

  lpush(key: string, ...elements: Buffer[]): void {
    this.head(2 + elements.length);
    this.raw(LPUSH_NAME);
    this.str(key);
    for (const e of elements) this.bytes(e);
    this.commands++;
  }

  ltrim(key: string, start: number, stop: number): void {
    this.raw(LTRIM);
    this.str(key);
    this.int(start);
    this.int(stop);
    this.commands++;
  }

  expire(key: string, seconds: number): void {
    this.raw(EXPIRE);
    this.str(key);
    this.int(seconds);
    this.commands++;
  }

  hincrby(key: string, field: string, by: number): void {
    this.raw(HINCRBY);
    this.str(key);
    this.str(field);
    this.int(by);
    this.commands++;
  }

  /** The encoded commands (a view; the batch is not reused after it is sent). */
  bytesOut(): Buffer {
    return this.buf.subarray(0, this.length);
  }
}

/** The error replies of a batch (`-ERR …`, `-WRONGTYPE …`), by command position. */
export interface BatchReply {
  errors: Array<{ index: number; message: string }>;
}

interface Pending {
  commands: number;
  got: number;
  errors: BatchReply['errors'];
  resolve(r: BatchReply): void;
  reject(err: Error): void;
}

/**
 * Splits RESP2 replies out of the byte stream and reports each top-level one (`null`, or the error text).
 * Replies cut across chunks wait for the rest.
 */
export class ReplyReader {
  private rest: Buffer | null = null;

  constructor(private readonly onReply: (error: string | null) => void) {}

  feed(chunk: Buffer): void {
    const b = this.rest ? Buffer.concat([this.rest, chunk]) : chunk;
    this.rest = null;
    let i = 0;
    while (i < b.length) {
      const end = skipReply(b, i);
      if (end < 0) break;
      this.onReply(b[i] === 0x2d ? b.toString('utf8', i + 1, end - 2) : null);
      i = end;
    }
    if (i < b.length) this.rest = b.subarray(i);
  }

  reset(): void {
    this.rest = null;
  }
}

/** End of the line starting at i (after its CRLF), or -1 when incomplete. */
function lineEnd(b: Buffer, i: number): number {
  for (let j = i; j < b.length - 1; j++) if (b[j] === 13 && b[j + 1] === 10) return j + 2;
  return -1;
}

function intAt(b: Buffer, from: number, to: number): number {
  return Number(b.toString('latin1', from, to));
}

/** Index after the reply starting at i, or -1 when it is not complete yet. */
function skipReply(b: Buffer, i: number): number {
  const end = lineEnd(b, i);
  if (end < 0) return -1;
  const type = b[i];
  if (type === 0x2b || type === 0x2d || type === 0x3a) return end; // + - :
  if (type === 0x24) {
    const n = intAt(b, i + 1, end - 2);
    if (n < 0) return end;
    return end + n + 2 <= b.length ? end + n + 2 : -1;
  }
  if (type === 0x2a) {
    const n = intAt(b, i + 1, end - 2);
    let j = end;
    for (let k = 0; k < n; k++) {
      j = skipReply(b, j);
      if (j < 0) return -1;
    }
    return j;
  }
  throw new Error(`unexpected RESP reply type ${JSON.stringify(String.fromCharCode(type))}`);
}

export interface RespConnectionOptions {
  /** CLIENT SETNAME (spaces become dashes) */
  name?: string;
  tlsCa?: string;
  tlsInsecure?: boolean;
  connectTimeoutMs?: number;
  /** a batch without any reply for this long means a dead connection: it is closed and reopened */
  replyTimeoutMs?: number;
  onStatus?: (status: 'ready' | 'down', err?: Error) => void;
}

export type RespStatus = 'connecting' | 'ready' | 'down' | 'closed';

/** One Redis connection that writes encoded batches and counts their replies. Emits 'ready'. */
export class RespConnection extends EventEmitter {
  status: RespStatus = 'connecting';
  private socket?: net.Socket;
  private pending: Pending[] = [];
  private attempts = 0;
  private retryTimer?: NodeJS.Timeout;
  private watchdog?: NodeJS.Timeout;
  private lastProgress = 0;
  private lastError?: Error;
  private readonly reader = new ReplyReader((e) => this.reply(e));
  /** a READONLY reply was seen on this socket: it is being replaced */
  private demoted = false;
  /** where the socket goes: the URL's server, or the master the sentinels name before each attempt */
  private host = '';
  private port = 0;
  private readonly deployment: RedisDeployment;
  private readonly handshake: RespBatch;
  /** handshake command positions whose failure means the connection is unusable (AUTH, SELECT) */
  private readonly fatal = new Set<number>();
  private readonly tlsOptions?: tls.ConnectionOptions;

  /** `target`: a Redis deployment text (kernel/redis-deployment.ts): one server or a Sentinel set */
  constructor(
    target: string | RedisDeployment,
    private readonly o: RespConnectionOptions = {},
  ) {
    super();
    const d = asDeployment(target);
    if (d.kind === 'cluster')
      throw new Error(`${describeRedisDeployment(d)}: Redis Cluster is not supported yet`);
    this.deployment = d;
    this.handshake = new RespBatch(256);
    if (d.password) {
      this.fatal.add(this.handshake.commands);
      if (d.username) this.handshake.command('AUTH', d.username, d.password);
      else this.handshake.command('AUTH', d.password);
    }
    if (d.db) {
      this.fatal.add(this.handshake.commands);
      this.handshake.command('SELECT', d.db);
    }
    if (o.name) this.handshake.command('CLIENT', 'SETNAME', o.name.replace(/\s+/g, '-'));
    // the same TLS settings as the roles' ioredis connections (CA file, insecure flag); SNI per host below
    if (d.tls) this.tlsOptions = tlsOptions({ tlsCa: o.tlsCa, tlsInsecure: o.tlsInsecure });
    this.connect();
  }

  get inFlight(): number {
    return this.pending.length;
  }

  /** Write one batch; resolves with its error replies once every command has replied, rejects when the
   * connection is not ready or is lost first (then some of the batch may have been applied). */
  send(batch: RespBatch): Promise<BatchReply> {
    if (this.status !== 'ready' || !this.socket) {
      return Promise.reject(new Error(`Redis connection is ${this.status}`));
    }
    if (batch.commands === 0) return Promise.resolve({ errors: [] });
    const socket = this.socket;
    return new Promise<BatchReply>((resolve, reject) => {
      if (this.pending.length === 0) this.lastProgress = performance.now();
      this.pending.push({ commands: batch.commands, got: 0, errors: [], resolve, reject });
      socket.write(batch.bytesOut());
    });
  }

  close(): void {
    this.status = 'closed';
    clearTimeout(this.retryTimer);
    clearInterval(this.watchdog);
    this.socket?.destroy();
    this.failPending(new Error('Redis connection closed'));
  }

  private connect(): void {
    if (this.status === 'closed') return;
    this.status = 'connecting';
    this.reader.reset();
    const d = this.deployment;
    if (d.kind === 'single') {
      this.open(d.host || '127.0.0.1', d.port);
      return;
    }
    // a Sentinel set: ask the sentinels for the current master before every attempt (after a failover it moved)
    findMaster(
      d,
      { tlsCa: this.o.tlsCa, tlsInsecure: this.o.tlsInsecure },
      this.o.connectTimeoutMs ?? 2000,
    ).then(
      (m) => this.open(m.host, m.port),
      (err: Error) => {
        if (this.status === 'closed') return;
        this.lastError = err;
        this.emit('refused', err);
        this.retry();
      },
    );
  }

  private retry(): void {
    const delay = reconnectDelay(this.attempts++);
    // through sentinels, asking again is cheap and a failover is over in seconds: do not back off far
    this.retryTimer = setTimeout(
      () => this.connect(),
      this.deployment.kind === 'sentinel' ? Math.min(delay, 1000) : delay,
    );
    this.retryTimer.unref();
  }

  private open(host: string, port: number): void {
    if (this.status === 'closed') return;
    this.host = host;
    this.port = port;
    this.demoted = false;
    const socket = this.tlsOptions
      ? tls.connect({ host, port, ...this.tlsOptions, servername: net.isIP(host) ? undefined : host })
      : net.connect({ host, port });
    this.socket = socket;
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 10_000);
    const timer = setTimeout(
      () => socket.destroy(new Error(`connect timeout after ${this.o.connectTimeoutMs ?? 5000} ms`)),
      this.o.connectTimeoutMs ?? 5000,
    );
    timer.unref();
    socket.once(this.tlsOptions ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer);
      this.startSession(socket);
    });
    socket.on('data', (chunk: Buffer) => {
      this.lastProgress = performance.now();
      try {
        this.reader.feed(chunk);
      } catch (err) {
        socket.destroy(err as Error);
      }
    });
    socket.on('error', (err) => {
      this.lastError = err;
    });
    socket.on('close', () => {
      clearTimeout(timer);
      if (this.socket !== socket) return;
      this.socket = undefined;
      const err = new Error(`Redis connection lost${this.lastError ? `: ${this.lastError.message}` : ''}`);
      this.failPending(err);
      if (this.status === 'closed') return;
      const wasReady = this.status === 'ready';
      this.status = 'down';
      if (wasReady) {
        this.o.onStatus?.('down', this.lastError);
        this.emit('down', this.lastError);
      }
      this.lastError = undefined;
      this.retry();
    });
  }

  /** AUTH, SELECT and CLIENT SETNAME, then ready. */
  private startSession(socket: net.Socket): void {
    const ready = () => {
      if (this.socket !== socket || this.status === 'closed') return;
      this.status = 'ready';
      this.attempts = 0;
      this.o.onStatus?.('ready');
      this.emit('ready');
    };
    this.startWatchdog();
    if (this.handshake.commands === 0) {
      ready();
      return;
    }
    this.lastProgress = performance.now();
    this.pending.push({
      commands: this.handshake.commands,
      got: 0,
      errors: [],
      resolve: ({ errors }) => {
        const bad = errors.find((e) => this.fatal.has(e.index));
        if (bad) {
          // e.g. WRONGPASS: retried with backoff, and said once per connection attempt
          this.lastError = new Error(`Redis refused the connection: ${bad.message}`);
          this.emit('refused', this.lastError);
          socket.destroy();
        } else ready();
      },
      reject: () => {},
    });
    socket.write(this.handshake.bytesOut());
  }

  /** A batch waiting for replies for too long: the connection is dead even if TCP does not say so yet. */
  private startWatchdog(): void {
    const timeout = this.o.replyTimeoutMs ?? 15_000;
    clearInterval(this.watchdog);
    this.watchdog = setInterval(
      () => {
        if (this.pending.length && performance.now() - this.lastProgress > timeout) {
          this.socket?.destroy(new Error(`no reply from Redis for ${timeout} ms`));
        }
      },
      Math.min(1000, timeout),
    );
    this.watchdog.unref();
  }

  private reply(error: string | null): void {
    const p = this.pending[0];
    if (!p) {
      this.socket?.destroy(new Error('a reply from Redis that no command asked for'));
      return;
    }
    if (error !== null) {
      p.errors.push({ index: p.got, message: error });
      // a master demoted to replica by a failover: reconnect (to the new master, through the sentinels); the
      // rest of this read is counted first, what is still unanswered fails and the Publisher re-sends it
      if (error.startsWith('READONLY') && !this.demoted) {
        this.demoted = true;
        const socket = this.socket;
        this.lastError = new Error(`${this.host}:${this.port} is a replica now (${error})`);
        setImmediate(() => socket?.destroy());
      }
    }
    if (++p.got === p.commands) {
      this.pending.shift();
      p.resolve({ errors: p.errors });
    }
  }

  private failPending(err: Error): void {
    const pending = this.pending;
    this.pending = [];
    for (const p of pending) p.reject(err);
  }
}
