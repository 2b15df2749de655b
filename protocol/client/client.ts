// The Filmgrain client: finds an endpoint, keeps one connection to it, follows `reconnect`, comes back after
// losses with backoff and jitter, restores the feed, and exposes typed events. It speaks protocol 1.1 (falling
// back to 1.0 on an older endpoint): the feed is restored with `since` the last offset it got, so a client
// moved or cut off resumes where it was, without a hole.
import { EventEmitter } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import type { EndpointListEntry } from '../endpoint-list.ts';
import { parseServerMessage, type ServerMessage, type ServerParamsOf, type Since } from '../messages.ts';
import { clientMessage, type DecodeResult, encodeMessage, MessageDecoder } from '../ndjson.ts';
import { type BackoffOptions, backoffDelay } from './backoff.ts';
import { type LoadEndpointListOptions, loadEndpointList } from './endpoint-source.ts';

export interface EndpointAddress {
  host: string;
  port: number;
  tls: boolean;
}

export interface ClientOptions {
  /** The endpoint list: a URL, `s3://bucket/key` or file path of endpoints.json, or the addresses themselves. */
  endpoints: string | EndpointAddress[];
  app: string;
  version: string;
  platform?: string;
  /** TLS settings for endpoints with `tls: true` (e.g. the CA of a self-signed certificate). */
  tls?: { ca?: string | Buffer; rejectUnauthorized?: boolean; servername?: string };
  backoff?: BackoffOptions;
  /** give up a connection attempt after this long (default 10 s) */
  connectTimeoutMs?: number;
  /** send `ping` after this long without sending (keeps the endpoint's idle timeout away) and treat a
   * connection silent for 3× this long as dead; 0 disables (default 30 s) */
  keepaliveMs?: number;
  /** longest server line accepted (default 16 MiB: `set_movies` grows with the catalog) */
  maxLineBytes?: number;
  /** Load generators: each `post_tweet` line goes to this callback as a byte range `[start, end)` of `buf`
   * (no newline; valid only during the call) instead of being parsed, and no `post_tweet` event is emitted.
   * Other messages are decoded as usual. Over plain TCP the socket then reads into one buffer shared by all
   * such clients of the process (no allocation per read). */
  onTweetLine?: (buf: Buffer, start: number, end: number) => void;
  /** tweet ids of the current feed remembered to drop repeats after a reconnect (default 500; 0 = off) */
  dedupe?: number;
  /** protocol to ask for: '1.1' (default: offsets, resume) or '1.0' */
  protocol?: '1.0' | '1.1';
  /** source address for the TCP connection (load generators spreading over 127.0.0.x) */
  localAddress?: string;
  list?: LoadEndpointListOptions;
  random?: () => number;
  /** Signed connections: a JWT, or a function giving one (called for every connection and every refresh, so
   * it can fetch a fresh token). Sent in `connect`, and replaced with `refresh_token` before it expires. */
  token?: string | TokenProvider;
  /** refresh this long before the token's `exp` (default: a fifth of its lifetime, between 1 s and 60 s) */
  tokenRefreshMarginMs?: number;
}

export type TokenProvider = () => string | Promise<string>;

/** The `exp` of a JWT in ms, without verifying it (the endpoint does): when to refresh. */
export function tokenExpiry(token: string): number | undefined {
  const part = token.split('.')[1];
  if (!part) return undefined;
  try {
    const exp = (JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as { exp?: unknown }).exp;
    return typeof exp === 'number' && Number.isFinite(exp) ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

export interface ClientEvents {
  connected: [EndpointAddress];
  disconnected: [{ endpoint: EndpointAddress; reason: string; retryInMs?: number }];
  set_movies: [ServerParamsOf['set_movies']];
  post_tweet: [ServerParamsOf['post_tweet']];
  /** 1.1: a feed (re)started; `resumed` false after a restore means tweets may have been missed */
  feed_started: [ServerParamsOf['feed_started']];
  pong: [ServerParamsOf['pong']];
  redirect: [ServerParamsOf['reconnect']];
  /** the endpoint took the refreshed token */
  token_refreshed: [ServerParamsOf['token_refreshed']];
  /** the token provider failed (the connection is closed and retried with backoff) */
  token_error: [Error];
  /** an `error` message from the endpoint */
  server_error: [ServerParamsOf['error']];
  /** every valid message, after its own event */
  message: [ServerMessage];
  /** a line from the endpoint that is not a valid message (ignored) */
  protocol_error: [{ code: string; message: string }];
  /** the endpoint list could not be (re)loaded; the last good one is kept */
  list_error: [Error];
  closed: [];
}

const POST_TWEET_PREFIX = Buffer.from('{"action":"post_tweet"');
const LF = 0x0a;
/** Read buffer shared by the `onTweetLine` clients of this process: a read is handled before the next one. */
let sharedReadBuffer: Buffer | null = null;
/** Redirects in a row without a session that got its `set_movies`: beyond it, back off. */
const MAX_REDIRECT_CHAIN = 5;

export class FilmgrainClient extends EventEmitter<ClientEvents> {
  private list: EndpointAddress[] = [];
  private socket: net.Socket | null = null;
  private current: EndpointAddress | null = null;
  private redirectTo: EndpointAddress | null = null;
  private redirectChain = 0;
  private attempt = 0;
  private feed: number | null = null;
  /** offset and epoch of the last tweet of the current feed (1.1), sent as `since` when it is restored */
  private position: Since | null = null;
  /** the protocol of the current connection: 1.1 until an endpoint refuses it */
  private speak11 = true;
  /** protocol spoken on the current connection ('1.0' until `connected` says otherwise) */
  protocol: '1.0' | '1.1' = '1.0';
  private seen = new Set<string>();
  private seenOrder: string[] = [];
  private retryTimer?: NodeJS.Timeout;
  private keepaliveTimer?: NodeJS.Timeout;
  private refreshTimer?: NodeJS.Timeout;
  /** the token of the current connection (sent again if the connect falls back to 1.0) */
  private token: string | undefined;
  private lastTx = 0;
  private lastRx = 0;
  private stopped = false;
  private session = false;
  /** `onTweetLine` framing: the partial line at the end of the last chunk (copied), its length */
  private rawParts: Buffer[] = [];
  private rawBytes = 0;
  /** `onTweetLine` framing: the decoder holds the partial line (a long non-tweet line); the rest goes to it */
  private rawToDecoder = false;
  private readonly random: () => number;
  /** connections opened (tests and load generators read it) */
  connects = 0;

  constructor(private readonly o: ClientOptions) {
    super();
    this.random = o.random ?? Math.random;
  }

  /** The endpoint of the current connection, if any. */
  get endpoint(): EndpointAddress | null {
    return this.current;
  }

  /** Whether the current connection got its `set_movies` (the endpoint accepted `connect`). */
  get ready(): boolean {
    return this.session;
  }

  /** Load the endpoint list and connect. Rejects only when the first list cannot be loaded. */
  async start(): Promise<void> {
    await this.reloadList(true);
    this.connectNext();
  }

  startFeed(movieId: number): void {
    if (this.feed !== movieId) {
      this.clearSeen();
      this.position = null;
    }
    this.feed = movieId;
    if (this.session) this.write(encodeMessage(clientMessage('start_feed', { movie_id: movieId })));
  }

  /** Where the current feed is (1.1): the `since` a restore will send. */
  get feedPosition(): Since | null {
    return this.position;
  }

  stopFeed(): void {
    this.feed = null;
    this.position = null;
    this.clearSeen();
    if (this.session) this.write(encodeMessage(clientMessage('stop_feed', {})));
  }

  /** Send `ping`; resolves with the matching `pong`, rejects after `timeoutMs`. */
  ping(id: unknown = Date.now(), timeoutMs = 10_000): Promise<ServerParamsOf['pong']> {
    return new Promise((resolve, reject) => {
      const onPong = (p: ServerParamsOf['pong']) => {
        if (JSON.stringify(p.id) !== JSON.stringify(id)) return;
        clearTimeout(t);
        this.off('pong', onPong);
        resolve(p);
      };
      const t = setTimeout(() => {
        this.off('pong', onPong);
        reject(new Error(`no pong within ${timeoutMs} ms`));
      }, timeoutMs);
      this.on('pong', onPong);
      this.write(encodeMessage(clientMessage('ping', { id })));
    });
  }

  /** Close for good (no reconnect). */
  close(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.keepaliveTimer);
    clearTimeout(this.refreshTimer);
    this.socket?.destroy();
    this.socket = null;
    this.emit('closed');
  }

  // ---- connection life ----

  private async reloadList(first: boolean): Promise<void> {
    const src = this.o.endpoints;
    if (typeof src !== 'string') {
      this.list = src.map((e) => ({ host: e.host, port: e.port, tls: e.tls }));
      return;
    }
    try {
      const l = await loadEndpointList(src, this.o.list);
      this.list = l.endpoints.map((e: EndpointListEntry) => ({ host: e.host, port: e.port, tls: e.tls }));
    } catch (err) {
      if (first) throw err;
      this.emit('list_error', err as Error);
    }
  }

  private pick(): EndpointAddress | null {
    if (this.list.length === 0) return null;
    // after a loss, prefer another endpoint than the one just lost
    const others = this.current
      ? this.list.filter((e) => e.host !== this.current!.host || e.port !== this.current!.port)
      : [];
    const from = this.attempt > 0 && others.length > 0 ? others : this.list;
    return from[Math.floor(this.random() * from.length)]!;
  }

  private connectNext(): void {
    if (this.stopped) return;
    const target = this.redirectTo ?? this.pick();
    this.redirectTo = null;
    if (!target) {
      this.scheduleRetry('the endpoint list is empty');
      return;
    }
    this.open(target);
  }

  private open(target: EndpointAddress): void {
    this.current = target;
    this.session = false;
    this.speak11 = true; // each endpoint is asked again (a fleet being upgraded mixes releases)
    this.connects++;
    const timeout = this.o.connectTimeoutMs ?? 10_000;
    const socket = target.tls
      ? tls.connect({
          host: target.host,
          port: target.port,
          ca: this.o.tls?.ca,
          rejectUnauthorized: this.o.tls?.rejectUnauthorized ?? true,
          servername: this.o.tls?.servername ?? (net.isIP(target.host) ? undefined : target.host),
          // tls.connect passes net options through; its typings leave localAddress out
          ...({ localAddress: this.o.localAddress } as object),
        })
      : net.connect({
          host: target.host,
          port: target.port,
          localAddress: this.o.localAddress,
          ...(this.o.onTweetLine
            ? {
                onread: {
                  buffer: (sharedReadBuffer ??= Buffer.allocUnsafe(64 * 1024)),
                  callback: (n: number, buf: Uint8Array): boolean => {
                    onChunk((buf as Buffer).subarray(0, n));
                    return true;
                  },
                },
              }
            : {}),
        });
    this.socket = socket;
    this.rawParts = [];
    this.rawBytes = 0;
    this.rawToDecoder = false;
    socket.setNoDelay(true);
    let reason = 'connection closed';
    const connectTimer = setTimeout(() => {
      reason = `no connection within ${timeout} ms`;
      socket.destroy();
    }, timeout);
    const decoder = new MessageDecoder<ServerMessage>({
      parse: parseServerMessage,
      maxLineBytes: this.o.maxLineBytes ?? 16 * 1024 * 1024,
      overflow: 'skip',
      onMessage: (r) => this.onMessage(r),
    });
    socket.once(target.tls ? 'secureConnect' : 'connect', () => {
      clearTimeout(connectTimer);
      this.lastRx = this.lastTx = Date.now();
      const client = {
        app: this.o.app,
        version: this.o.version,
        ...(this.o.platform ? { platform: this.o.platform } : {}),
      };
      this.protocol = '1.0';
      const protocol = this.speak11 && this.o.protocol !== '1.0' ? '1.1' : 1;
      this.startKeepalive();
      this.emit('connected', target);
      void this.getToken().then(
        (token) => {
          if (this.socket !== socket) return;
          this.token = token;
          this.write(
            encodeMessage(clientMessage('connect', { client, protocol, ...(token ? { token } : {}) })),
          );
        },
        (err: Error) => {
          this.emit('token_error', err);
          reason = `no token: ${err.message}`;
          socket.destroy();
        },
      );
    });
    const onChunk = (chunk: Buffer) => {
      if (this.socket !== socket) return;
      this.lastRx = Date.now();
      if (this.o.onTweetLine) this.rawData(chunk, decoder, this.o.onTweetLine);
      else decoder.push(chunk);
    };
    socket.on('data', onChunk); // not emitted when `onread` is in use
    socket.on('error', (err) => {
      reason = err.message;
    });
    socket.on('close', () => {
      clearTimeout(connectTimer);
      clearInterval(this.keepaliveTimer);
      if (this.socket === socket) clearTimeout(this.refreshTimer);
      if (this.socket !== socket) return;
      this.socket = null;
      this.session = false;
      if (this.stopped) return;
      if (this.redirectTo) {
        this.emit('disconnected', { endpoint: target, reason: 'redirected', retryInMs: 0 });
        this.connectNext();
        return;
      }
      this.scheduleRetry(reason, target);
    });
  }

  private scheduleRetry(reason: string, endpoint?: EndpointAddress): void {
    const delay = backoffDelay(this.attempt++, this.o.backoff, this.random);
    if (endpoint) this.emit('disconnected', { endpoint, reason, retryInMs: delay });
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(async () => {
      // the fleet may have changed while we were away
      if (this.attempt > 1 && typeof this.o.endpoints === 'string') await this.reloadList(false);
      this.connectNext();
    }, delay);
  }

  private async getToken(): Promise<string | undefined> {
    const t = this.o.token;
    return typeof t === 'function' ? await t() : t;
  }

  /** Send `refresh_token` a margin before the current token's exp (nothing to do without one). */
  private scheduleRefresh(): void {
    clearTimeout(this.refreshTimer);
    const exp = this.token ? tokenExpiry(this.token) : undefined;
    if (exp === undefined || typeof this.o.token !== 'function') return;
    const left = exp - Date.now();
    const margin = this.o.tokenRefreshMarginMs ?? Math.min(60_000, Math.max(1000, left / 5));
    const socket = this.socket;
    this.refreshTimer = setTimeout(
      () => {
        void this.getToken().then(
          (token) => {
            if (this.socket !== socket || !token) return;
            this.token = token;
            this.write(encodeMessage(clientMessage('refresh_token', { token })));
          },
          (err: Error) => this.emit('token_error', err),
        );
      },
      Math.max(0, left - margin),
    );
    this.refreshTimer.unref();
  }

  private startKeepalive(): void {
    const every = this.o.keepaliveMs ?? 30_000;
    clearInterval(this.keepaliveTimer);
    if (every <= 0) return;
    this.keepaliveTimer = setInterval(
      () => {
        const now = Date.now();
        if (now - this.lastRx > every * 3) {
          this.socket?.destroy(new Error(`nothing received for ${Math.round((now - this.lastRx) / 1000)} s`));
          return;
        }
        if (now - this.lastTx >= every) this.write(encodeMessage(clientMessage('ping', {})));
      },
      Math.max(50, Math.floor(every / 2)),
    );
    this.keepaliveTimer.unref();
  }

  private write(buf: Buffer): void {
    if (!this.socket || this.socket.destroyed) return;
    this.lastTx = Date.now();
    this.socket.write(buf);
  }

  /** Fast path for load generators: `post_tweet` lines go to `onTweet` as byte ranges, the rest is decoded.
   * The chunk may be a shared buffer: whatever is kept past this call is copied. */
  private rawData(
    chunk: Buffer,
    decoder: MessageDecoder<ServerMessage>,
    onTweet: (buf: Buffer, start: number, end: number) => void,
  ): void {
    let start = 0;
    if (this.rawToDecoder) {
      // a long non-tweet line is being assembled by the decoder (with its own bound): finish it there
      const nl = chunk.indexOf(LF);
      decoder.push(nl === -1 ? chunk : chunk.subarray(0, nl + 1));
      if (nl === -1) return;
      this.rawToDecoder = false;
      start = nl + 1;
    } else if (this.rawBytes > 0) {
      const nl = chunk.indexOf(LF);
      if (nl === -1) {
        this.keepPartial(chunk, 0, decoder);
        return;
      }
      this.rawParts.push(chunk.subarray(0, nl + 1));
      const line = Buffer.concat(this.rawParts, this.rawBytes + nl + 1);
      this.rawParts = [];
      this.rawBytes = 0;
      this.rawLine(line, 0, line.length - 1, decoder, onTweet);
      start = nl + 1;
    }
    while (start < chunk.length) {
      const nl = chunk.indexOf(LF, start);
      if (nl === -1) {
        this.keepPartial(chunk, start, decoder);
        return;
      }
      this.rawLine(chunk, start, nl, decoder, onTweet);
      start = nl + 1;
    }
  }

  /** One complete line `buf[start, end)` (its newline at `end`). */
  private rawLine(
    buf: Buffer,
    start: number,
    end: number,
    decoder: MessageDecoder<ServerMessage>,
    onTweet: (buf: Buffer, start: number, end: number) => void,
  ): void {
    const n = POST_TWEET_PREFIX.length;
    if (end - start > n && buf.compare(POST_TWEET_PREFIX, 0, n, start, start + n) === 0) {
      onTweet(buf, start, end);
    } else {
      decoder.push(buf.subarray(start, end + 1));
    }
  }

  /** Keep the partial line `chunk[start..]` (a copy: the chunk may be reused). A line already known not to be a
   * tweet goes to the decoder instead, which bounds it. */
  private keepPartial(chunk: Buffer, start: number, decoder: MessageDecoder<ServerMessage>): void {
    const n = POST_TWEET_PREFIX.length;
    const head = this.rawBytes > 0 ? Buffer.concat([...this.rawParts, chunk.subarray(start)]) : null;
    const line = head ?? chunk.subarray(start);
    const known = line.length >= n;
    const tweet = known && line.compare(POST_TWEET_PREFIX, 0, n, 0, n) === 0;
    const max = this.o.maxLineBytes ?? 16 * 1024 * 1024;
    if ((known && !tweet) || line.length > max) {
      this.rawParts = [];
      this.rawBytes = 0;
      this.rawToDecoder = true;
      decoder.push(line);
      return;
    }
    this.rawParts = [head ?? Buffer.from(line)];
    this.rawBytes = line.length;
  }

  // ---- messages ----

  private onMessage(r: DecodeResult<ServerMessage>): void {
    if (!r.ok) {
      this.emit('protocol_error', { code: r.code, message: r.message });
      return;
    }
    const m = r.message;
    switch (m.action) {
      case 'set_movies':
        if (!this.session) this.onSession();
        this.emit('set_movies', m.params);
        break;
      case 'post_tweet':
        if (m.params.movie_id === this.feed && m.params.offset && m.params.epoch) {
          this.position = { offset: m.params.offset, epoch: m.params.epoch };
        }
        if (this.isRepeat(m.params.movie_id, m.params.tweet.id)) return;
        this.emit('post_tweet', m.params);
        break;
      case 'connected':
        this.protocol = m.params.protocol === '1.0' ? '1.0' : '1.1';
        break;
      case 'feed_started':
        // a new epoch: the old position means nothing any more
        if (m.params.movie_id === this.feed && !m.params.resumed) this.position = null;
        this.emit('feed_started', m.params);
        break;
      case 'pong':
        this.emit('pong', m.params);
        break;
      case 'token_refreshed':
        this.scheduleRefresh();
        this.emit('token_refreshed', m.params);
        break;
      case 'reconnect': {
        this.emit('redirect', m.params);
        if (++this.redirectChain <= MAX_REDIRECT_CHAIN) {
          this.redirectTo = { host: m.params.host, port: m.params.port, tls: m.params.tls };
        }
        this.socket?.destroy();
        break;
      }
      case 'error':
        // an endpoint older than 1.1 refuses "1.1": speak 1.0 with it
        if (m.params.action === 'connect' && /protocol/.test(m.params.message) && this.speak11) {
          this.speak11 = false;
          const client = {
            app: this.o.app,
            version: this.o.version,
            ...(this.o.platform ? { platform: this.o.platform } : {}),
          };
          const token = this.token;
          this.write(
            encodeMessage(clientMessage('connect', { client, protocol: 1, ...(token ? { token } : {}) })),
          );
        }
        this.emit('server_error', m.params);
        break;
    }
    this.emit('message', m);
  }

  /** The endpoint accepted us: reset the backoff, restore the feed. */
  private onSession(): void {
    this.session = true;
    this.attempt = 0;
    this.redirectChain = 0;
    this.scheduleRefresh();
    if (this.feed === null) return;
    const since = this.protocol === '1.1' ? this.position : null;
    this.write(
      encodeMessage(
        clientMessage('start_feed', since ? { movie_id: this.feed, since } : { movie_id: this.feed }),
      ),
    );
  }

  private isRepeat(movieId: number, tweetId: string): boolean {
    const max = this.o.dedupe ?? 500;
    if (max <= 0 || movieId !== this.feed) return false;
    if (this.seen.has(tweetId)) return true;
    this.seen.add(tweetId);
    this.seenOrder.push(tweetId);
    if (this.seenOrder.length > max) this.seen.delete(this.seenOrder.shift()!);
    return false;
  }

  private clearSeen(): void {
    this.seen.clear();
    this.seenOrder = [];
  }
}
