// The endpoint: accepts TCP/TLS clients, speaks protocol v1, fans out tweets and rankings, enforces limits,
// and moves clients to other endpoints (soft limit, shed, drain).
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import tls from 'node:tls';
import type { Redis } from 'ioredis';
import {
  type ClientMessage,
  type ClientParamsOf,
  negotiatedMinor,
  parseClientMessage,
  protocolName,
  RECENT_TWEETS_ON_START,
  type ServerParamsOf,
  type Since,
} from '../../protocol/messages.ts';
import { type DecodeResult, decodeLine, encodeServerMessage, LineDecoder } from '../../protocol/ndjson.ts';
import {
  type EndpointRecord,
  HISTORY_CAP,
  HISTORY_FIELDS,
  type RedisContract,
} from '../../protocol/redis-contract.ts';
import { UserError } from '../runtime/errors.ts';
import type { Logger } from '../runtime/logger.ts';
import { bump } from '../runtime/metrics.ts';
import type { Subscriber } from '../runtime/subscriber.ts';
import { AuthFailure, type TokenVerifier, type VerifiedToken } from './auth.ts';
import { CatalogCache } from './catalog.ts';
import { BYTES_PER_TOKEN, Conn, type ConnLimits, type ConnOwner } from './conn.ts';
import { FeedHub } from './feeds.ts';
import { RankingSync } from './ranking.ts';
import { Registry } from './registry.ts';
import { EndpointStats, LoopDelay } from './stats.ts';
import { WatchingSync } from './watching.ts';
import { sleep } from '../../kernel/sleep.ts';

export interface EndpointSettings {
  id: string;
  host: string;
  port: number;
  publicHost?: string;
  hostName: string;
  tlsCert?: string;
  tlsKey?: string;
  maxClients: number;
  softLimit?: number;
  syncMs: number;
  idleTimeoutMs: number;
  connectTimeoutMs: number;
  maxPerIp: number;
  rate: number;
  burst: number;
  maxQueue: number;
  drainGraceMs: number;
  registryIntervalMs: number;
  /** --unlisted: out of the registry until God admits this release (registry.ts) */
  unlisted?: boolean;
  /** the release this process runs (what God admits) */
  version?: string;
  /** `set_movies` is filled up to this many movies with catalog movies of count 0 */
  moviesShown: number;
}

export interface EndpointDeps {
  redis: Redis;
  /** for client requests (recent tweets): no offline queue, so an outage fails them at once (`unavailable`) */
  requests: Redis;
  subscriber: Subscriber;
  keys: RedisContract;
  log: Logger;
  /** signed connections: verifies `connect.token` / `refresh_token` (undefined: auth off) */
  auth?: TokenVerifier;
}

/** Decoded messages waiting behind an async one before the socket is paused. */
const BACKLOG_PAUSE = 16;
/** Grace before a client closed for flooding is cut: its last line is small, and it must not flood meanwhile. */
const ABUSE_GRACE_MS = 500;
/** How long `start_feed` waits for Redis (subscription, history) before going on with live ones only. */
const RECENT_TIMEOUT_MS = 3000;
/** Most history entries a resume reads: the stream holds HISTORY_CAP, plus up to one node (100) with `~`
 * trimming. A resume that would need more is answered as not resumed (offset_not_found). */
const RESUME_MAX = HISTORY_CAP + 200;
type Entry = [Buffer, Buffer[]];
/** A history entry's field (HISTORY_FIELDS). */
function field(e: Entry, name: string): Buffer | undefined {
  const f = e[1];
  for (let i = 0; i + 1 < f.length; i += 2) if (f[i]!.toString('latin1') === name) return f[i + 1];
  return undefined;
}
/** The wire line of a history entry for a 1.`minor` client (the stored line is 1.0; 1.1 adds offset, epoch). */
function historyLine(e: Entry, minor: number): Buffer | undefined {
  let l = field(e, HISTORY_FIELDS.line);
  if (!l || l.length < 3) return undefined;
  if (l[l.length - 1] !== 0x0a) l = Buffer.concat([l, Buffer.from('\n')]);
  if (minor === 0) return l;
  const epoch = field(e, HISTORY_FIELDS.epoch)?.toString('latin1') ?? '';
  return Buffer.concat([
    l.subarray(0, l.length - 3),
    Buffer.from(`,"offset":"${e[0].toString('latin1')}","epoch":"${epoch}"}}\n`),
  ]);
}

/** `p`, or a rejection after `ms`. The timer is cleared as soon as `p` settles: a pending timer would keep the
 * settled race (and so its result, e.g. a feed's history) alive for the whole `ms`, at thousands of
 * start_feed a second a lot of memory (test/endpoint/fuzz.test.ts measures it). */
const withTimeout = <T>(p: Promise<T>, ms: number): Promise<T> => {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
};

export class EndpointServer implements ConnOwner {
  readonly stats = new EndpointStats();
  readonly loopDelay = new LoopDelay();
  readonly limits: ConnLimits;
  readonly clients = new Set<Conn>();
  /** accepted connections per client address (--max-per-ip) */
  private readonly perIp = new Map<string, number>();
  readonly feeds: FeedHub;
  readonly catalog: CatalogCache;
  readonly ranking: RankingSync;
  readonly watching: WatchingSync;
  readonly registry: Registry;
  readonly softLimit: number;
  readonly tls: boolean;
  port = 0;
  draining = false;
  private stopping = false;
  private readonly server: net.Server;
  private readonly publicHost: string;
  private sweepTimer?: NodeJS.Timeout;
  private registryTimer?: NodeJS.Timeout;
  private readonly unsubs: Array<() => void> = [];

  constructor(
    private readonly s: EndpointSettings,
    private readonly d: EndpointDeps,
  ) {
    this.limits = { maxQueue: s.maxQueue, rate: s.rate, burst: s.burst };
    this.softLimit = Math.min(s.softLimit ?? Math.max(1, Math.floor(s.maxClients * 0.8)), s.maxClients);
    this.publicHost =
      s.publicHost ?? (['0.0.0.0', '::', ''].includes(s.host) ? s.hostName || os.hostname() : s.host);
    this.feeds = new FeedHub(d.subscriber, d.keys, this.stats, s.maxQueue);
    this.catalog = new CatalogCache(d.redis, d.keys, d.log);
    this.watching = new WatchingSync(
      d.redis,
      d.keys,
      s.id,
      s.syncMs,
      () => this.localWatching(),
      () => this.ranking.compose(),
      d.log,
    );
    this.ranking = new RankingSync(
      d.redis,
      d.keys,
      s.syncMs,
      d.log,
      (line, line11) => this.broadcast(line, line11),
      this.catalog,
      s.moviesShown,
      this.watching,
    );
    this.registry = new Registry(
      d.redis,
      d.keys,
      () => this.record(),
      s.unlisted ? { version: s.version ?? '' } : undefined,
    );

    if ((s.tlsCert === undefined) !== (s.tlsKey === undefined)) {
      throw new UserError('endpoint: --tls-cert and --tls-key go together', {
        code: 'FG_CONFIG',
        hint: 'Give both (PEM files) to serve TLS, or neither for plain TCP.',
      });
    }
    this.tls = s.tlsCert !== undefined;
    const onSocket = (socket: net.Socket) => this.onSocket(socket);
    if (this.tls) {
      let cert: Buffer;
      let key: Buffer;
      try {
        cert = fs.readFileSync(s.tlsCert!);
        key = fs.readFileSync(s.tlsKey!);
      } catch (err) {
        throw new UserError(`endpoint: cannot read the TLS certificate or key: ${(err as Error).message}`, {
          code: 'FG_CONFIG',
          hint: 'Check the paths given to --tls-cert / --tls-key (FG_ENDPOINT_TLS_CERT / FG_ENDPOINT_TLS_KEY).',
        });
      }
      const server = tls.createServer({ cert, key, handshakeTimeout: 10_000 });
      server.on('secureConnection', onSocket);
      // failed handshakes (scanners, wrong protocol) are the peer's problem, not ours
      server.on('tlsClientError', (_err, socket) => socket.destroy());
      this.server = server;
    } else {
      this.server = net.createServer(onSocket);
    }
    // Safety net for sockets not yet counted (TLS handshakes): the kernel keeps accepting, we close beyond it.
    this.server.maxConnections = s.maxClients + Math.max(100, Math.ceil(s.maxClients / 10));
    this.server.on('error', (err) => d.log.error({ err }, 'listener error'));
  }

  record(): EndpointRecord {
    return {
      id: this.s.id,
      host: this.publicHost,
      port: this.port,
      tls: this.tls,
      clients: this.clients.size,
      capacity: this.s.maxClients,
      soft_limit: this.softLimit,
      draining: this.draining || this.stopping,
      at: new Date().toISOString(),
    };
  }

  async start(): Promise<void> {
    const { subscriber, keys } = this.d;
    this.unsubs.push(subscriber.on(keys.rankingChanged, () => this.ranking.request()));
    this.unsubs.push(
      subscriber.on(keys.catalogChanged, () => void this.catalog.load().then(() => this.ranking.request())),
    );
    // After a reconnect (a Redis restart loses everything) rewrite what this endpoint owns at once, rather than at
    // the next beat. Every 'ready' counts, the first one too (not onReadyAgain): Redis may have been down at start.
    const onReady = () => {
      void this.catalog.load().then(() => this.ranking.request());
      if (this.port !== 0 && !this.stopping) void this.beatNow();
    };
    this.d.redis.on('ready', onReady);
    this.unsubs.push(() => this.d.redis.off('ready', onReady));
    // Redis may be down at start: the endpoint still serves, with what it gets once Redis is back.
    await Promise.race([
      Promise.all([this.catalog.load(), this.ranking.start()]).then(() => this.ranking.compose()),
      sleep(3000),
    ]);

    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        reject(
          new UserError(`endpoint: cannot listen on ${this.s.host}:${this.s.port}: ${err.message}`, {
            code: 'FG_LISTEN',
            hint:
              err.code === 'EADDRINUSE'
                ? 'Another process uses this port: pick another with --port (FG_ENDPOINT_PORT), or 0 for any free one.'
                : 'Check --host / --port (FG_ENDPOINT_HOST / FG_ENDPOINT_PORT).',
            cause: err,
          }),
        );
      };
      this.server.once('error', onError);
      this.server.listen({ host: this.s.host, port: this.s.port, backlog: 4096 }, () => {
        this.server.off('error', onError);
        resolve();
      });
    });
    this.port = (this.server.address() as net.AddressInfo).port;
    this.loopDelay.start();

    const shortest = Math.min(this.s.idleTimeoutMs, this.s.connectTimeoutMs);
    const sweepEvery = Math.max(50, Math.min(1000, Math.floor(shortest / 4)));
    this.sweepTimer = setInterval(() => this.sweepIdle(), sweepEvery);
    this.sweepTimer.unref();
    await this.beatNow();
    this.watching.start();
    this.registryTimer = setInterval(() => void this.beatNow(), this.s.registryIntervalMs);
    this.registryTimer.unref();
    this.unsubs.push(this.registry.watchAdmission(() => void this.beatNow()));
  }

  private beatNow(): Promise<void> {
    return this.registry
      .beat()
      .catch((err) => this.d.log.debug({ err: err.message }, 'registry beat failed'));
  }

  // ---- connections ----

  private onSocket(socket: net.Socket): void {
    socket.on('error', () => {}); // resets etc.: 'close' follows
    if (this.stopping) {
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    if (this.clients.size >= this.s.maxClients) {
      this.stats.rejected++;
      this.refuse(
        socket,
        encodeServerMessage('error', {
          code: 'server_full',
          message: `this endpoint is at its limit of ${this.s.maxClients} clients; connect to another endpoint or retry later`,
        }),
      );
      return;
    }
    const ip = socket.remoteAddress ?? '';
    if ((this.perIp.get(ip) ?? 0) >= this.s.maxPerIp) {
      this.stats.perIpRefused++;
      this.refuse(
        socket,
        encodeServerMessage('error', {
          code: 'too_many_connections',
          message: `this address already has ${this.s.maxPerIp} connections to this endpoint; close some, or retry later`,
        }),
      );
      return;
    }
    if (this.clients.size >= this.softLimit || this.draining) {
      const target = this.registry.pickRedirect();
      if (target) {
        this.stats.redirected++;
        bump(this.stats.redirects, this.draining ? 'drain' : 'overload');
        this.refuse(socket, reconnectLine(target, this.draining ? 'draining' : 'load'));
        return;
      }
    }
    this.accept(socket);
  }

  /** Send one last line to a connection that is not accepted, and close it. */
  private refuse(socket: net.Socket, line: Buffer): void {
    socket.end(line);
    socket.resume(); // read and drop whatever it sends until it goes
    setTimeout(() => socket.destroy(), 2000).unref();
  }

  private accept(socket: net.Socket): void {
    const conn = new Conn(socket, this, Date.now());
    this.stats.accepted++;
    this.clients.add(conn);
    const ip = socket.remoteAddress ?? '';
    this.perIp.set(ip, (this.perIp.get(ip) ?? 0) + 1);
    const decoder = new LineDecoder({
      onLine: (line) => this.onLine(conn, line),
      onError: (e) => {
        if (!conn.closing) conn.closeWithError('line_too_long', e.message);
      },
    });
    // a closing connection's input is not even split into lines (a flooder keeps sending until it is cut)
    socket.on('data', (chunk: Buffer) => {
      if (!conn.closing) decoder.push(chunk);
    });
    socket.on('close', () => {
      conn.closed();
      this.onDetach(conn);
      this.clients.delete(conn);
      const n = (this.perIp.get(ip) ?? 1) - 1;
      if (n > 0) this.perIp.set(ip, n);
      else this.perIp.delete(ip);
    });
  }

  onDetach(conn: Conn): void {
    this.feeds.leave(conn);
  }

  onSlow(conn: Conn): void {
    this.stats.slowConsumers++;
    conn.closeSlow(
      encodeServerMessage('error', {
        code: 'slow_consumer',
        message: `more than ${this.s.maxQueue} bytes were waiting for this client; read faster (or start fewer feeds) and reconnect`,
      }),
    );
  }

  /** One complete line. The rate limit runs first, on the line's length: input over the limit is dropped
   * without being parsed, so a flood costs a scan for newlines and nothing more. */
  private onLine(conn: Conn, line: Buffer): void {
    if (conn.closing) return;
    const now = Date.now();
    // only complete lines keep a connection alive: a byte now and then (slowloris) does not
    conn.lastRx = now;
    if (!conn.takeToken(now, line.length)) {
      this.stats.rateLimited++;
      if (conn.farOverLimit()) {
        this.stats.rateClosed++;
        conn.closeWithError(
          'rate_limited',
          `far more than ${this.s.rate} messages/s (bursts of ${this.s.burst}, one more per ${BYTES_PER_TOKEN} bytes); closing: slow down before you reconnect`,
          ABUSE_GRACE_MS,
        );
        return;
      }
      // One notice per second at most: the notices must not become the flood.
      if (now - conn.limitedNoticeAt >= 1000) {
        conn.limitedNoticeAt = now;
        conn.sendError(
          'rate_limited',
          `more than ${this.s.rate} messages/s (bursts of ${this.s.burst}, one more per ${BYTES_PER_TOKEN} bytes); this message was dropped, slow down`,
        );
      }
      return;
    }
    conn.parsed++;
    this.stats.parsedLines++;
    if (conn.busy) {
      // parsed when its turn comes: a `connect` ahead of it may change the protocol version
      conn.backlog.push(Buffer.from(line));
      if (conn.backlog.length === BACKLOG_PAUSE) conn.socket.pause();
      return;
    }
    this.handle(conn, this.decode(conn, line));
  }

  private decode(conn: Conn, line: Buffer): DecodeResult<ClientMessage> {
    return decodeLine(line, (v) => parseClientMessage(v, conn.minor));
  }

  private handle(conn: Conn, r: DecodeResult<ClientMessage>): void {
    bump(this.stats.msgsIn, r.ok ? r.message.action : 'invalid');
    if (!r.ok) {
      conn.sendError(r.code, r.message, r.action);
      return;
    }
    const m = r.message;
    if (m.action === 'connect') {
      const { auth } = this.d;
      if (!auth) {
        this.connect(conn, m.params);
        return;
      }
      // with auth on, nothing is answered (not even the protocol) before the token verifies
      this.verifying(conn, auth.verify(m.params.token), (v) => {
        conn.authExpMs = v.expMs;
        conn.authSub = v.sub;
        this.connect(conn, m.params);
      });
      return;
    }
    if (!conn.connected) {
      conn.sendError(
        'not_connected',
        `send "connect" first, e.g. {"action":"connect","params":{"client":{"app":"my-app","version":"1.0"}}}`,
        m.action,
      );
      return;
    }
    switch (m.action) {
      case 'ping':
        conn.send(encodeServerMessage('pong', m.params.id === undefined ? {} : { id: m.params.id }));
        return;
      case 'stop_feed':
        this.feeds.leave(conn);
        return;
      case 'refresh_token': {
        const { auth } = this.d;
        if (!auth) {
          // nothing is checked here: the answer says so by having no expiry
          conn.send(encodeServerMessage('token_refreshed', {}));
          return;
        }
        this.verifying(conn, auth.verify(m.params.token, conn.authSub), (v) => {
          conn.authExpMs = v.expMs;
          this.stats.tokenRefreshes++;
          conn.send(encodeServerMessage('token_refreshed', { expires_at: new Date(v.expMs).toISOString() }));
        });
        return;
      }
      case 'start_feed':
        conn.busy = true;
        this.startFeed(conn, m.params.movie_id, conn.minor >= 1 ? m.params.since : undefined)
          .catch((err) => this.d.log.warn({ err }, 'start_feed failed'))
          .finally(() => {
            conn.busy = false;
            this.drainBacklog(conn);
          });
        return;
    }
  }

  private connect(conn: Conn, params: ClientParamsOf['connect']): void {
    conn.connected = true;
    conn.minor = negotiatedMinor(params.protocol) ?? 0;
    if (conn.minor >= 1) {
      conn.send(encodeServerMessage('connected', { protocol: protocolName(conn.minor) }));
    }
    conn.send(conn.minor >= 1 ? this.ranking.line11 : this.ranking.line);
  }

  /** Hold the connection's later lines while its token is verified; a failure closes it (`auth_required` when
   * there was no token, else `auth_invalid`). The log names the reason, never the token. */
  private verifying(conn: Conn, check: Promise<VerifiedToken>, ok: (v: VerifiedToken) => void): void {
    conn.busy = true;
    check
      .then(
        (v) => {
          if (!conn.closing) ok(v);
        },
        (err) => {
          const reason = err instanceof AuthFailure ? err.reason : 'malformed';
          bump(this.stats.authRefused, reason);
          this.d.log.info({ reason, conn: conn.id, ip: conn.socket.remoteAddress }, 'token refused');
          if (conn.closing) return;
          conn.closeWithError(
            reason === 'missing' ? 'auth_required' : 'auth_invalid',
            err instanceof AuthFailure ? err.message : 'the token could not be verified',
          );
        },
      )
      .finally(() => {
        conn.busy = false;
        this.drainBacklog(conn);
      });
  }

  private drainBacklog(conn: Conn): void {
    while (!conn.busy && !conn.closing && conn.backlog.length > 0) {
      this.handle(conn, this.decode(conn, conn.backlog.shift()!));
    }
    if (!conn.busy && !conn.closing && conn.socket.isPaused()) conn.socket.resume();
  }

  /** History (oldest first), then live tweets. The subscription is live before the history is read, and live
   * lines are held until the history is out; those the history already had (offset ≤ its last) are dropped,
   * held or still on the way (the seam). With `since` (1.1) the history is the tweets after it, when the epoch
   * matches and the offset is still in the stream; otherwise the latest RECENT_TWEETS_ON_START, as for 1.0.
   * A 1.1 client gets `feed_started` first, saying which. */
  private async startFeed(conn: Conn, movieId: number, since: Since | undefined): Promise<void> {
    this.feeds.leave(conn);
    const seq = conn.feedSeq;
    // From the endpoint's own copy of the catalog: no Redis round trip per id, nothing queued while Redis is down.
    const known = this.catalog.has(movieId);
    if (known === false) {
      conn.sendError(
        'unknown_movie',
        `movie ${movieId} is not in the catalog; use an id from set_movies`,
        'start_feed',
      );
      return;
    }
    if (known === undefined || this.d.requests.status !== 'ready') {
      this.stats.unavailable++;
      conn.sendError(
        'unavailable',
        'tweets are unavailable right now (this endpoint has lost its database); retry in a few seconds',
        'start_feed',
      );
      return;
    }
    const feed = this.feeds.join(conn, movieId);
    const key = this.d.keys.movieHistory(movieId);
    let history: Entry[] = [];
    const started: ServerParamsOf['feed_started'] = { movie_id: movieId, resumed: false, history: 0 };
    try {
      await withTimeout(feed.ready, RECENT_TIMEOUT_MS);
      if (since) {
        // First the one entry (cheap): a guessed or stale `since` costs no read of the history. Then the entries
        // from it; the offset's own entry still first means nothing after it was trimmed in between.
        const at = (await withTimeout(
          this.d.requests.xrangeBuffer(key, since.offset, since.offset),
          RECENT_TIMEOUT_MS,
        )) as Entry[];
        if (at[0] && field(at[0], HISTORY_FIELDS.epoch)?.toString('latin1') === since.epoch) {
          const after = (await withTimeout(
            this.d.requests.xrangeBuffer(key, since.offset, '+', 'COUNT', RESUME_MAX + 1),
            RECENT_TIMEOUT_MS,
          )) as Entry[];
          if (after[0]?.[0].toString('latin1') === since.offset && after.length <= RESUME_MAX) {
            started.resumed = true;
            history = after.slice(1);
          }
        }
      }
      if (!started.resumed) {
        history = (
          (await withTimeout(
            this.d.requests.xrevrangeBuffer(key, '+', '-', 'COUNT', RECENT_TWEETS_ON_START),
            RECENT_TIMEOUT_MS,
          )) as Entry[]
        ).reverse();
      }
      const newest = history[history.length - 1];
      // the feed's epoch is that of its newest entry; an empty stream has none (its history is gone)
      const epoch = newest
        ? field(newest, HISTORY_FIELDS.epoch)?.toString('latin1')
        : started.resumed
          ? since?.epoch
          : undefined;
      if (epoch) started.epoch = epoch;
      if (since && !started.resumed) {
        started.reason = epoch === since.epoch ? 'offset_not_found' : 'epoch_changed';
      }
    } catch (err) {
      this.d.log.debug({ err: (err as Error).message, movie_id: movieId }, 'feed history unavailable');
      history = [];
      if (since) started.reason = 'history_unavailable';
    }
    if (conn.closing || seq !== conn.feedSeq) return;
    const lines: Buffer[] = [];
    for (const e of history) {
      const l = historyLine(e, conn.minor);
      if (l) lines.push(l);
    }
    if (conn.minor >= 1) {
      // in the order of the schema (and of PROTOCOL.md)
      const { reason, epoch } = started;
      conn.send(
        encodeServerMessage('feed_started', {
          movie_id: movieId,
          resumed: started.resumed,
          ...(reason ? { reason } : {}),
          ...(epoch ? { epoch } : {}),
          history: lines.length,
        }),
      );
    }
    if (lines.length > 0) conn.send(lines.length === 1 ? lines[0]! : Buffer.concat(lines), lines.length);
    const last = history[history.length - 1];
    this.feeds.release(conn, last ? last[0].toString('latin1') : started.resumed ? since!.offset : null);
  }

  private broadcast(line: Buffer | null, line11: Buffer | null): void {
    for (const c of this.clients) {
      if (!c.connected) continue;
      const l = c.minor >= 1 ? line11 : line;
      if (l) c.send(l);
    }
  }

  /** This endpoint's clients per movie feed (every protocol version counts). */
  private localWatching(): Map<number, number> {
    const n = new Map<number, number>();
    for (const c of this.clients) {
      if (c.movieId !== null && !c.closing) n.set(c.movieId, (n.get(c.movieId) ?? 0) + 1);
    }
    return n;
  }

  private sweepIdle(): void {
    const now = Date.now();
    const limit = now - this.s.idleTimeoutMs;
    const connectBy = now - this.s.connectTimeoutMs;
    for (const c of this.clients) {
      if (c.closing) continue;
      if (!c.connected && c.acceptedAt <= connectBy) {
        this.stats.connectTimeouts++;
        c.closeWithError(
          'connect_timeout',
          `no "connect" within ${Math.round(this.s.connectTimeoutMs / 1000)} s of connecting; send "connect" first, e.g. {"action":"connect","params":{"client":{"app":"my-app","version":"1.0"}}}`,
        );
        continue;
      }
      if (c.authExpMs > 0 && now >= c.authExpMs + (this.d.auth?.leewayMs ?? 0)) {
        this.stats.authExpired++;
        c.closeWithError(
          'auth_expired',
          'the session token expired; send "refresh_token" with a new token before "exp", or reconnect with one',
        );
        continue;
      }
      if (c.lastRx > limit) continue;
      this.stats.idleClosed++;
      c.closeWithError(
        'idle_timeout',
        `nothing received for ${Math.round(this.s.idleTimeoutMs / 1000)} s; send "ping" regularly to stay connected`,
      );
    }
  }

  // ---- moving clients elsewhere ----

  /** Send `count` clients (newest first) to other endpoints. Returns how many were moved. */
  async shed(count: number, reason = 'shed'): Promise<number> {
    await withTimeout(this.registry.refresh(), 1000).catch(() => {});
    const live = [...this.clients].filter((c) => !c.closing);
    const victims = live.slice(Math.max(0, live.length - count)).reverse();
    const targets = this.registry.spread(victims.length);
    if (targets.length === 0) {
      this.d.log.warn({ requested: count }, 'shed: no other endpoint to send clients to; keeping them');
      return 0;
    }
    bump(this.stats.redirects, this.draining ? 'drain' : 'shed', victims.length);
    victims.forEach((c, i) => {
      this.stats.redirected++;
      c.closeWith(reconnectLine(targets[i]!, reason));
    });
    this.d.log.info({ moved: victims.length, reason }, 'clients sent to other endpoints');
    return victims.length;
  }

  /** Stop taking clients here and move the current ones to other endpoints. */
  async drain(reason = 'draining'): Promise<number> {
    this.draining = true;
    await withTimeout(this.registry.beat(), 1000).catch(() => {});
    return this.shed(this.clients.size, reason);
  }

  /** Graceful stop: stop accepting, send every client `reconnect` elsewhere (if there is an elsewhere), give
   * them a grace to leave, close the rest. */
  async stop(reason: string): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.draining = true;
    clearInterval(this.sweepTimer);
    clearInterval(this.registryTimer);
    const closed = new Promise<void>((r) => this.server.close(() => r()));
    // Redis may be down: the drain must not wait for it (peers then come from the last refresh)
    await withTimeout(this.registry.remove(), 1000).catch(() => {});
    await withTimeout(this.registry.refresh(), 1000).catch(() => {});
    const live = [...this.clients].filter((c) => !c.closing);
    const targets = this.registry.spread(live.length);
    live.forEach((c, i) => {
      const t = targets[i];
      if (t) this.stats.redirected++;
      if (t) bump(this.stats.redirects, 'stop');
      c.closeWith(
        t ? reconnectLine(t, reason === 'SIGTERM' ? 'shutdown' : reason) : null,
        this.s.drainGraceMs,
      );
    });
    this.d.log.info(
      { clients: live.length, moved: targets.length, peers: this.registry.peers.length },
      targets.length ? 'draining: clients sent to other endpoints' : 'draining: no other endpoint; closing',
    );
    const until = Date.now() + this.s.drainGraceMs;
    while (this.clients.size > 0 && Date.now() < until) await sleep(25);
    for (const c of this.clients) c.socket.destroy();
    await Promise.race([closed, sleep(500)]);
    await withTimeout(this.watching.stop(), 1000).catch(() => {});
    for (const u of this.unsubs) u();
    this.feeds.close();
    this.ranking.close();
    this.loopDelay.stop();
  }

  gauges(): Record<string, number> {
    return {
      clients: this.clients.size,
      feeds: this.feeds.size,
      ...this.stats.rates(),
      ...this.loopDelay.read(),
      slow_consumers: this.stats.slowConsumers,
      rejected: this.stats.rejected,
      redirected: this.stats.redirected,
      rate_limited: this.stats.rateLimited,
      idle_closed: this.stats.idleClosed,
      connect_timeouts: this.stats.connectTimeouts,
      rate_closed: this.stats.rateClosed,
      per_ip_refused: this.stats.perIpRefused,
      unavailable: this.stats.unavailable,
      parsed_lines: this.stats.parsedLines,
      auth_refused: [...this.stats.authRefused.values()].reduce((a, b) => a + b, 0),
      auth_expired: this.stats.authExpired,
      token_refreshes: this.stats.tokenRefreshes,
      capacity: this.s.maxClients,
      soft_limit: this.softLimit,
      draining: this.draining ? 1 : 0,
    };
  }
}

function reconnectLine(t: EndpointRecord, reason: string): Buffer {
  return encodeServerMessage('reconnect', { host: t.host, port: t.port, tls: t.tls, reason });
}
