// Movie feeds: one Redis subscription per movie that has local clients, and batched fan-out of the ready
// wire lines the feeder publishes. Lines are never re-serialized: the 1.1 line from Redis goes to every 1.1
// socket as is, and its 1.0 form (the same bytes without the trailing `offset` and `epoch`) is cut once per
// movie per turn, only when the feed has 1.0 clients.
import type { Redis } from 'ioredis';
import { compareOffsets } from '../../protocol/messages.ts';
import type { RedisContract } from '../../protocol/redis-contract.ts';
import type { Subscriber } from '../runtime/subscriber.ts';
import type { Conn } from './conn.ts';
import type { EndpointStats } from './stats.ts';

const LF = 0x0a;
const OFFSET_FIELD = Buffer.from(',"offset":"');
/** what closes a `post_tweet` line after its params' last field: params, envelope, newline */
const TAIL = Buffer.from('}}\n');

/** One published tweet: its 1.1 line, where its 1.0 line ends (before `,"offset"`), and its offset. A line
 * without an offset (a feeder older than 1.1) is the same line for both versions. */
export interface FeedLine {
  line: Buffer;
  /** bytes of the 1.0 line before its `}}\n` tail; -1: the line is already a 1.0 line */
  cut: number;
  offset: string | null;
}

export function feedLine(line: Buffer): FeedLine {
  // offset and epoch are the last params: search from the end (a tweet's text cannot hold an unescaped quote)
  const at = line.lastIndexOf(OFFSET_FIELD);
  if (at < 0) return { line, cut: -1, offset: null };
  const from = at + OFFSET_FIELD.length;
  const to = line.indexOf(0x22, from);
  return { line, cut: at, offset: to > from ? line.toString('latin1', from, to) : null };
}

/** The protocol 1.0 line of a feed line. */
export const lineV10 = (l: FeedLine): Buffer =>
  l.cut < 0 ? l.line : Buffer.concat([l.line.subarray(0, l.cut), TAIL]);

/** The bytes for a client speaking 1.`minor`: all lines, one Buffer. */
function joined(lines: FeedLine[], minor: number): Buffer {
  if (minor >= 1) return lines.length === 1 ? lines[0]!.line : Buffer.concat(lines.map((l) => l.line));
  const parts: Buffer[] = [];
  for (const l of lines) {
    if (l.cut < 0) parts.push(l.line);
    else parts.push(l.line.subarray(0, l.cut), TAIL);
  }
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}

export class Feed {
  readonly clients = new Set<Conn>();
  /** lines received since the last flush */
  pending: FeedLine[] = [];
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
   * `release` so that the history goes first. */
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
    conn.floor = null;
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
    feed.pending.push(feedLine(line));
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
      // One copy per movie per turn and version, shared by all its clients of that version.
      const data: Array<Buffer | undefined> = [undefined, undefined];
      for (const conn of feed.clients) {
        if (conn.held !== null) this.hold(conn, lines);
        else if (conn.floor !== null) this.sendAbove(conn, lines);
        else if (conn.send((data[conn.minor] ??= joined(lines, conn.minor)), lines.length))
          this.stats.tweetsOut += lines.length;
      }
    }
    if (this.onFlush && dirty.length > 0) this.onFlush((performance.now() - this.batchAt) / 1000);
  };

  private hold(conn: Conn, lines: FeedLine[]): void {
    let bytes = 0;
    for (const l of lines) bytes += l.line.length;
    if (conn.heldBytes + bytes > this.maxHeldBytes) {
      this.stats.heldDropped += lines.length;
      return;
    }
    conn.heldBytes += bytes;
    for (const l of lines) conn.held!.push(l);
  }

  /** Past the seam: the lines after `conn.floor` (the last offset sent as history). Lines of one subscription
   * come in offset order, so the floor is dropped at the first line above it. */
  private sendAbove(conn: Conn, lines: FeedLine[]): void {
    const floor = conn.floor!;
    let i = 0;
    while (i < lines.length && lines[i]!.offset !== null && compareOffsets(lines[i]!.offset!, floor) <= 0)
      i++;
    if (i === lines.length) return;
    conn.floor = null;
    const rest = i === 0 ? lines : lines.slice(i);
    if (conn.send(joined(rest, conn.minor), rest.length)) this.stats.tweetsOut += rest.length;
  }

  /** Stop holding a client's live lines: the history up to offset `floor` was sent (null: none). The held
   * lines after it go now; later ones up to it are dropped as they come (they may still be on the way). */
  release(conn: Conn, floor: string | null): void {
    const held = conn.held;
    conn.held = null;
    conn.heldBytes = 0;
    conn.floor = floor;
    if (held && held.length > 0) {
      if (floor === null) {
        if (conn.send(joined(held, conn.minor), held.length)) this.stats.tweetsOut += held.length;
      } else this.sendAbove(conn, held);
    }
  }

  close(): void {
    for (const feed of this.feeds.values()) feed.unsubscribe();
    this.feeds.clear();
    this.dirty = [];
  }
}
