// One client connection: its protocol state, rate-limit bucket and bounded outbound queue.
import type net from 'node:net';
import type { ErrorCode, ProtocolMinor } from '../../protocol/messages.ts';
import { encodeServerMessage } from '../../protocol/ndjson.ts';
import type { FeedLine } from './feeds.ts';
import { bump } from '../runtime/metrics.ts';
import type { EndpointStats } from './stats.ts';

export interface ConnLimits {
  maxQueue: number;
  rate: number;
  burst: number;
}

export interface ConnOwner {
  readonly stats: EndpointStats;
  readonly limits: ConnLimits;
  /** the queue bound was hit: `slow_consumer` and close */
  onSlow(conn: Conn): void;
  /** the connection stops getting data (closing): leave its feed */
  onDetach(conn: Conn): void;
}

/** Grace given to a closing connection to take its last line before it is destroyed. */
export const CLOSE_GRACE_MS = 2000;
/** Longest a slow consumer's last line (`slow_consumer`) waits for the client to read what is ahead of it. Only
 * that line and at most one socket buffer are held meanwhile. */
export const SLOW_CLOSE_MAX_MS = 30_000;
/** A line costs one token, plus one per this many bytes: big lines use up the bucket faster. */
export const BYTES_PER_TOKEN = 4096;
/** Dropping more than this many times the allowed rate within one second closes the connection (`rate_limited`). */
export const FAR_OVER_FACTOR = 10;

let nextId = 1;

export class Conn {
  readonly id = nextId++;
  connected = false;
  /** negotiated protocol minor version (1.0 until a `connect` asks for more) */
  minor: ProtocolMinor = 0;
  /** movie id of the current feed, if any (the FeedHub owns the membership) */
  movieId: number | null = null;
  /** bumped on every feed change, so a late reply for an earlier feed is ignored */
  feedSeq = 0;
  /** live lines held while the history of a new feed is read (null: not holding) */
  held: FeedLine[] | null = null;
  heldBytes = 0;
  /** the seam: live lines up to this offset were already sent as history, drop them (null: none to drop) */
  floor: string | null = null;
  /** signed connections: when the session's token expires (ms; 0: no token checked) and its subject */
  authExpMs = 0;
  authSub: string | undefined;
  /** when the last complete line arrived (a partial line does not count: slowloris) */
  lastRx: number;
  readonly acceptedAt: number;
  tokens: number;
  tokensAt: number;
  limitedNoticeAt = 0;
  /** token cost of the lines dropped in the current one-second window, and when it began */
  dropped = 0;
  droppedAt = 0;
  /** lines of this client that were JSON-parsed */
  parsed = 0;
  closing = false;
  /** a message is being handled asynchronously (start_feed); later lines wait in `backlog` (copied, parsed
   * when their turn comes, with the protocol version then in force) */
  busy = false;
  backlog: Buffer[] = [];
  private killTimer?: NodeJS.Timeout;
  /** Outbound lines waiting for the socket to drain. The socket itself is only written while it needs no drain,
   * so on `slow_consumer` this queue can be dropped and the error frame is behind at most one socket buffer. */
  private queue: Buffer[] = [];
  private queuedBytes = 0;

  constructor(
    readonly socket: net.Socket,
    private readonly owner: ConnOwner,
    now: number,
  ) {
    this.lastRx = now;
    this.acceptedAt = now;
    this.tokens = owner.limits.burst;
    this.tokensAt = now;
    socket.on('drain', this.flushQueue);
  }

  /** Bytes waiting for this client: our queue plus the socket's buffer. */
  get pendingBytes(): number {
    return this.queuedBytes + this.socket.writableLength;
  }

  /** Queue bytes for the client unless its queue is already past the bound (then it is a slow consumer).
   * The bound is checked before the write, so one batch larger than the bound still goes to a reader that
   * keeps up; the queue never exceeds the bound plus one batch. */
  send(buf: Buffer, msgs = 1): boolean {
    if (this.closing) return false;
    if (this.pendingBytes > this.owner.limits.maxQueue) {
      this.owner.onSlow(this);
      return false;
    }
    if (this.queue.length === 0 && !this.socket.writableNeedDrain) this.socket.write(buf);
    else {
      this.queue.push(buf);
      this.queuedBytes += buf.length;
    }
    this.owner.stats.bytesOut += buf.length;
    this.owner.stats.msgsOut += msgs;
    return true;
  }

  private readonly flushQueue = (): void => {
    while (this.queue.length > 0 && !this.socket.writableNeedDrain) {
      const b = this.queue.shift()!;
      this.queuedBytes -= b.length;
      this.socket.write(b);
    }
  };

  sendError(code: ErrorCode, message: string, action?: string): void {
    bump(this.owner.stats.errorFrames, code);
    this.send(
      encodeServerMessage('error', action === undefined ? { code, message } : { code, message, action }),
    );
  }

  /** Tokens for a line of `bytes` bytes (1 + 1 per BYTES_PER_TOKEN); false when the bucket has too few. Called
   * before the line is parsed, so input over the limit costs no parsing. */
  takeToken(now: number, bytes = 0): boolean {
    const { rate, burst } = this.owner.limits;
    this.tokens = Math.min(burst, this.tokens + ((now - this.tokensAt) * rate) / 1000);
    this.tokensAt = now;
    const cost = 1 + Math.floor(bytes / BYTES_PER_TOKEN);
    if (this.tokens < Math.min(cost, burst)) {
      if (now - this.droppedAt >= 1000) {
        this.droppedAt = now;
        this.dropped = 0;
      }
      this.dropped += cost;
      return false;
    }
    this.tokens -= cost;
    return true;
  }

  /** Dropped far more than the limit allows within the current second. */
  farOverLimit(): boolean {
    const { rate, burst } = this.owner.limits;
    return this.dropped > FAR_OVER_FACTOR * Math.max(rate, burst);
  }

  /** Write a last line (bypassing the queue bound: it is the last one), then close; destroy after a grace. */
  closeWith(last: Buffer | null, graceMs = CLOSE_GRACE_MS): void {
    if (this.closing) return;
    this.closing = true;
    this.owner.onDetach(this);
    this.backlog.length = 0;
    this.held = null;
    this.flushQueue();
    // what could not be written yet goes out before the last line
    if (this.queue.length > 0) this.socket.write(Buffer.concat(this.queue));
    this.queue = [];
    this.queuedBytes = 0;
    if (last) this.socket.end(last);
    else this.socket.end();
    this.killTimer = setTimeout(() => this.socket.destroy(), graceMs);
    this.killTimer.unref();
  }

  /** Slow consumer: drop what is queued, so the error frame is behind at most one socket buffer; wait (up to
   * SLOW_CLOSE_MAX_MS) for the client to read up to it, then the usual grace. */
  closeSlow(last: Buffer): void {
    if (this.closing) return;
    this.closing = true;
    this.owner.onDetach(this);
    this.backlog.length = 0;
    this.held = null;
    this.queue = [];
    this.queuedBytes = 0;
    this.socket.end(last);
    const kill = () => this.socket.destroy();
    this.killTimer = setTimeout(kill, SLOW_CLOSE_MAX_MS);
    this.killTimer.unref();
    // 'finish': every byte is with the kernel, which delivers it even after close
    this.socket.once('finish', () => {
      clearTimeout(this.killTimer);
      this.killTimer = setTimeout(kill, CLOSE_GRACE_MS);
      this.killTimer.unref();
    });
  }

  closeWithError(code: ErrorCode, message: string, graceMs?: number): void {
    bump(this.owner.stats.errorFrames, code);
    this.closeWith(encodeServerMessage('error', { code, message }), graceMs);
  }

  /** The socket is gone. */
  closed(): void {
    clearTimeout(this.killTimer);
    this.closing = true;
    this.queue = [];
    this.queuedBytes = 0;
    this.backlog.length = 0;
    this.held = null;
  }
}
