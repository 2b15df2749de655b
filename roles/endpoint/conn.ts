// One client connection: its protocol state, rate-limit bucket and bounded outbound queue.
import type net from 'node:net';
import type { ClientMessage, ErrorCode } from '../../protocol/messages.ts';
import { type DecodeResult, encodeServerMessage } from '../../protocol/ndjson.ts';
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

let nextId = 1;

export class Conn {
  readonly id = nextId++;
  connected = false;
  /** movie id of the current feed, if any (the FeedHub owns the membership) */
  movieId: number | null = null;
  /** bumped on every feed change, so a late reply for an earlier feed is ignored */
  feedSeq = 0;
  /** live lines held while the recent tweets of a new feed are read (null: not holding) */
  held: Buffer[] | null = null;
  heldBytes = 0;
  lastRx: number;
  tokens: number;
  tokensAt: number;
  limitedNoticeAt = 0;
  closing = false;
  /** a message is being handled asynchronously (start_feed); later ones wait in `backlog` */
  busy = false;
  backlog: DecodeResult<ClientMessage>[] = [];
  private killTimer?: NodeJS.Timeout;

  constructor(
    readonly socket: net.Socket,
    private readonly owner: ConnOwner,
    now: number,
  ) {
    this.lastRx = now;
    this.tokens = owner.limits.burst;
    this.tokensAt = now;
  }

  /** Queue bytes for the client unless its queue is already past the bound (then it is a slow consumer).
   * The bound is checked before the write, so one batch larger than the bound still goes to a reader that
   * keeps up; the queue never exceeds the bound plus one batch. */
  send(buf: Buffer, msgs = 1): boolean {
    if (this.closing) return false;
    if (this.socket.writableLength > this.owner.limits.maxQueue) {
      this.owner.onSlow(this);
      return false;
    }
    this.socket.write(buf);
    this.owner.stats.bytesOut += buf.length;
    this.owner.stats.msgsOut += msgs;
    return true;
  }

  sendError(code: ErrorCode, message: string, action?: string): void {
    this.send(
      encodeServerMessage('error', action === undefined ? { code, message } : { code, message, action }),
    );
  }

  /** One token of the client's bucket; false when it is empty. */
  takeToken(now: number): boolean {
    const { rate, burst } = this.owner.limits;
    this.tokens = Math.min(burst, this.tokens + ((now - this.tokensAt) * rate) / 1000);
    this.tokensAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Write a last line (bypassing the queue bound: it is the last one), then close; destroy after a grace. */
  closeWith(last: Buffer | null, graceMs = CLOSE_GRACE_MS): void {
    if (this.closing) return;
    this.closing = true;
    this.owner.onDetach(this);
    this.backlog.length = 0;
    this.held = null;
    if (last) this.socket.end(last);
    else this.socket.end();
    this.killTimer = setTimeout(() => this.socket.destroy(), graceMs);
    this.killTimer.unref();
  }

  closeWithError(code: ErrorCode, message: string, graceMs?: number): void {
    this.closeWith(encodeServerMessage('error', { code, message }), graceMs);
  }

  /** The socket is gone. */
  closed(): void {
    clearTimeout(this.killTimer);
    this.closing = true;
    this.backlog.length = 0;
    this.held = null;
  }
}
