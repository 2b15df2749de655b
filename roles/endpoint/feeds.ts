// Movie feeds: one Redis subscription per movie that has local clients, and batched fan-out of the ready
// wire lines the feeder publishes. Lines are never re-serialized: the Buffer from Redis goes to every socket.
import type { Redis } from 'ioredis';
import type { RedisContract } from '../../protocol/redis-contract.ts';
import type { Subscriber } from '../runtime/subscriber.ts';
import type { Conn } from './conn.ts';
import type { EndpointStats } from './stats.ts';

const LF = 0x0a;

export class Feed {
  readonly clients = new Set<Conn>();
  /** lines received since the last flush */
  pending: Buffer[] = [];
  /** resolves once Redis confirmed the subscription (so no line published after it can be missed) */
  ready: Promise<void>;
  unsubscribe: () => void = () => {};

  constructor(
    readonly movieId: number,
    readonly channel: string,
  ) {
    this.ready = Promise.resolve();
  }
}

export class FeedHub {
  private readonly feeds = new Map<number, Feed>();
  private dirty: Feed[] = [];
  private scheduled = false;
  /** when the first line of the pending flush arrived (performance.now()), for onFlush */
  private batchAt = 0;
  /** set by /metrics (roles/endpoint/metrics.ts): seconds from a flush's first line arriving to its writes */
  onFlush?: (seconds: number) => void;

  constructor(
    private readonly sub: Subscriber,
    private readonly keys: RedisContract,
    private readonly stats: EndpointStats,
    /** live lines a client may hold while its recent tweets are read */
    private readonly maxHeldBytes: number,
  ) {}

  /** Subscribed movie channels. */
  get size(): number {
    return this.feeds.size;
  }

  get(movieId: number): Feed | undefined {
    return this.feeds.get(movieId);
  }

  /** Add a client to a movie's feed (subscribing on its first client). Live lines are held for it until
   * `release` so that recent tweets go first. */
  join(conn: Conn, movieId: number): Feed {
    if (conn.movieId !== null) this.leave(conn);
    let feed = this.feeds.get(movieId);
    if (!feed) {
      const f = new Feed(movieId, this.keys.movieChannel(movieId));
      f.unsubscribe = this.sub.on(f.channel, (msg) => this.onLine(f, msg));
      // PING is answered after SUBSCRIBE on the same connection: once it is, the channel is live.
      f.ready = (this.sub.redis as Redis).ping().then(
        () => {},
        () => {},
      );
      this.feeds.set(movieId, f);
      feed = f;
    }
    feed.clients.add(conn);
    conn.movieId = movieId;
    conn.held = [];
    conn.heldBytes = 0;
    return feed;
  }

  leave(conn: Conn): void {
    conn.feedSeq++;
    conn.held = null;
    const movieId = conn.movieId;
    if (movieId === null) return;
    conn.movieId = null;
    const feed = this.feeds.get(movieId);
    if (!feed) return;
    feed.clients.delete(conn);
    if (feed.clients.size === 0) {
      this.feeds.delete(movieId);
      feed.pending = [];
      feed.unsubscribe();
    }
  }

  private onLine(feed: Feed, msg: Buffer): void {
    if (msg.length === 0) return;
    // Every line must end the client's frame; a publisher that forgot the newline must not glue lines.
    const line = msg[msg.length - 1] === LF ? msg : Buffer.concat([msg, Buffer.from([LF])]);
    if (feed.pending.length === 0) this.dirty.push(feed);
    feed.pending.push(line);
    if (!this.scheduled) {
      this.scheduled = true;
      if (this.onFlush) this.batchAt = performance.now();
      // After the I/O phase: every line Redis delivered in this loop turn goes out in one write per socket.
      setImmediate(this.flush);
    }
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    const dirty = this.dirty;
    this.dirty = [];
    for (const feed of dirty) {
      const lines = feed.pending;
      feed.pending = [];
      if (lines.length === 0 || feed.clients.size === 0) continue;
      // One copy per movie per turn, shared by all its clients.
      const data = lines.length === 1 ? lines[0]! : Buffer.concat(lines);
      let sent = 0;
      for (const conn of feed.clients) {
        if (conn.held !== null) this.hold(conn, lines, data.length);
        else if (conn.send(data, lines.length)) sent++;
      }
      this.stats.tweetsOut += sent * lines.length;
    }
    if (this.onFlush && dirty.length > 0) this.onFlush((performance.now() - this.batchAt) / 1000);
  };

  private hold(conn: Conn, lines: Buffer[], bytes: number): void {
    if (conn.heldBytes + bytes > this.maxHeldBytes) {
      this.stats.heldDropped += lines.length;
      return;
    }
    conn.heldBytes += bytes;
    for (const l of lines) conn.held!.push(l);
  }

  /** Stop holding a client's live lines: the recent ones were sent; send the held ones not among them. */
  release(conn: Conn, alreadySent: Set<string>): void {
    const held = conn.held;
    conn.held = null;
    conn.heldBytes = 0;
    if (!held || held.length === 0) return;
    const fresh = alreadySent.size === 0 ? held : held.filter((l) => !alreadySent.has(l.toString('latin1')));
    if (fresh.length > 0 && conn.send(fresh.length === 1 ? fresh[0]! : Buffer.concat(fresh), fresh.length)) {
      this.stats.tweetsOut += fresh.length;
    }
  }

  close(): void {
    for (const feed of this.feeds.values()) feed.unsubscribe();
    this.feeds.clear();
    this.dirty = [];
  }
}
