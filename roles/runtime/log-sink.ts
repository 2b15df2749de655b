// Ships log lines into the Redis log stream without ever blocking the role: a bounded in-memory queue, batched
// XADDs, counted drops while Redis is away.
//
// Nothing logged is lost across a Sentinel failover (issue 16): replication is asynchronous, so an XADD the old
// master acknowledged can vanish with it. With `waitReplicas` > 0 (a Sentinel deployment) each batch is held
// after its XADDs until `WAIT waitReplicas waitMs` on the same connection says a replica has it; a batch not
// confirmed when the connection drops (a failover, or any reconnect) is sent again on the next connection, before
// newer lines. So a line can reach the stream twice: every line carries its own id (`lid` = the process's boot
// token and a sequence number, see lineId) and the keeper drops copies before archiving (roles/keeper/dedupe.ts).
// Held lines are bounded (`maxHeld`): beyond it the oldest are let go unconfirmed (counted, and said in a
// warning line), which is today's at-most-once for them. With a single Redis (`waitReplicas` 0) an XADD's reply
// is the confirmation, as before.
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { LOG_STREAM_MAXLEN } from '../../protocol/redis-contract.ts';
import { parseRedisDeployment } from '../../kernel/redis-deployment.ts';

export interface LogSinkOptions {
  redis: Redis;
  stream: string;
  role: string;
  id: string;
  host: string;
  maxQueue?: number;
  batch?: number;
  flushMs?: number;
  /** replicas that must confirm a batch (WAIT) before it is forgotten; 0: the XADD reply is enough */
  waitReplicas?: number;
  /** bound of one WAIT */
  waitMs?: number;
  /** lines held for confirmation at most (must stay ≤ the keeper's dedupe window, DEDUPE_WINDOW) */
  maxHeld?: number;
  /** this process's boot token (tests pass their own); default: a fresh one per process start */
  boot?: string;
}

/** Lines held for confirmation at most by default; the keeper's dedupe window (DEDUPE_WINDOW) is larger. */
export const MAX_HELD_LINES = 10_000;

const LEVELS: Record<number, string> = {
  10: 'trace',
  20: 'debug',
  30: 'info',
  40: 'warn',
  50: 'error',
  60: 'fatal',
};

interface Line {
  seq: number;
  /** the line as shipped: the JSON log line with its `lid` */
  line: string;
}

interface Held {
  lines: Line[];
  /** connection generation the batch was last sent on; another generation means: send it again */
  gen: number;
}

/**
 * A token unique to one start of one process (start time and 4 random bytes). The sequence starts at 0 on each
 * start, so (role, id, boot) names one run of the sequence: a restarted process never reuses a line id.
 */
export function newBootToken(now = Date.now()): string {
  return `${now.toString(36)}${randomBytes(4).toString('hex')}`;
}

/**
 * Replicas a batch waits for on this deployment: 1 on a Sentinel set (there is a replica to fail over to, so an
 * unreplicated line can be lost), 0 on a single Redis (nothing to fail over to: the XADD reply is enough).
 */
export function logWaitReplicas(redisUrl: string): number {
  try {
    return parseRedisDeployment(redisUrl).kind === 'sentinel' ? 1 : 0;
  } catch {
    return 0;
  }
}

/** A line's unique id as the stream field `lid` and the line's own `lid` field hold it: `<boot>.<seq>`. */
export function lineId(boot: string, seq: number): string {
  return `${boot}.${seq}`;
}

export class RedisLogSink {
  private queue: Line[] = [];
  private held: Held[] = [];
  private heldLines = 0;
  private flushing = false;
  private timer: NodeJS.Timeout;
  private gen = 0;
  private seq = 0;
  readonly boot: string;
  /** lines dropped because the queue was full; reported in heartbeats and once Redis is back */
  dropped = 0;
  private droppedReported = 0;
  /** lines let go without a replica's confirmation because more than maxHeld were held */
  unconfirmed = 0;
  private unconfirmedReported = 0;
  /** lines sent again after a reconnect (the keeper drops the copies) */
  resent = 0;
  shipped = 0;
  private readonly maxQueue: number;
  private readonly batch: number;
  private readonly waitReplicas: number;
  private readonly waitMs: number;
  private readonly maxHeld: number;
  private readonly onClose = () => {
    this.gen++;
  };

  constructor(private readonly o: LogSinkOptions) {
    this.maxQueue = o.maxQueue ?? 20_000;
    this.batch = o.batch ?? 1000;
    this.waitReplicas = o.waitReplicas ?? 0;
    this.waitMs = o.waitMs ?? 500;
    this.maxHeld = o.maxHeld ?? MAX_HELD_LINES;
    this.boot = o.boot ?? newBootToken();
    // every close ends a connection: what was sent on it and not confirmed is sent again on the next one
    o.redis.on('close', this.onClose);
    this.timer = setInterval(() => void this.flush(), o.flushMs ?? 100);
    this.timer.unref();
  }

  /** pino destination interface */
  write(line: string): void {
    if (this.queue.length >= this.maxQueue) {
      // drop the oldest: the newest lines say most about the present
      this.queue.shift();
      this.dropped++;
    }
    this.queue.push(this.stamp(line.endsWith('\n') ? line.slice(0, -1) : line));
    if (this.queue.length >= this.batch) void this.flush();
  }

  /** Give a line its sequence number and splice its `lid` into it (last field; a non-object line stays as is). */
  private stamp(text: string): Line {
    const seq = this.seq++;
    const lid = lineId(this.boot, seq);
    let line = text;
    if (text.length > 2 && text.charCodeAt(0) === 123 && text.charCodeAt(text.length - 1) === 125)
      line = `${text.slice(0, -1)},"lid":"${lid}"}`;
    return { seq, line };
  }

  /** lines not yet written to Redis */
  get pending(): number {
    return this.queue.length;
  }

  /** lines written but not yet confirmed replicated */
  get holding(): number {
    return this.heldLines;
  }

  async flush(): Promise<void> {
    if (this.flushing || (this.queue.length === 0 && this.held.length === 0)) return;
    if (this.o.redis.status !== 'ready') return;
    this.flushing = true;
    try {
      // batches sent on an earlier connection and never confirmed first, oldest first
      for (const h of this.held) {
        if (this.o.redis.status !== 'ready') return;
        if (h.gen === this.gen) continue;
        const gen = this.gen;
        if ((await this.send(h.lines)) < h.lines.length) return;
        h.gen = gen;
        this.resent += h.lines.length;
      }
      while (this.o.redis.status === 'ready') {
        this.reportLosses();
        if (this.queue.length > 0) {
          const lines = this.queue.slice(0, this.batch);
          const gen = this.gen;
          const ok = await this.send(lines);
          this.queue.splice(0, ok);
          this.shipped += ok;
          if (ok > 0 && this.waitReplicas > 0) this.hold({ lines: lines.slice(0, ok), gen });
          if (ok < lines.length) break;
        }
        if (this.waitReplicas > 0 && this.held.length > 0) await this.confirm();
        if (this.queue.length === 0) break;
      }
    } catch {
      // Redis went away mid-flush; lines stay queued (or held) for the next attempt.
    } finally {
      this.flushing = false;
    }
  }

  /** XADD the lines in one pipeline; how many went in before the first failure. */
  private async send(lines: Line[]): Promise<number> {
    const p = this.o.redis.pipeline();
    for (const { seq, line } of lines) {
      p.xadd(
        this.o.stream,
        'MAXLEN',
        '~',
        LOG_STREAM_MAXLEN,
        '*',
        'role',
        this.o.role,
        'id',
        this.o.id,
        'host',
        this.o.host,
        'level',
        levelOf(line),
        'line',
        line,
        'lid',
        lineId(this.boot, seq),
      );
    }
    const res = await p.exec();
    const failed = res?.findIndex(([err]) => err) ?? -1;
    return failed === -1 ? lines.length : failed;
  }

  private hold(h: Held): void {
    this.held.push(h);
    this.heldLines += h.lines.length;
    while (this.heldLines > this.maxHeld && this.held.length > 1) {
      const old = this.held.shift()!;
      this.heldLines -= old.lines.length;
      this.unconfirmed += old.lines.length;
    }
  }

  /** WAIT covers every earlier write of this connection: a confirmed WAIT confirms every batch sent on it. */
  private async confirm(): Promise<void> {
    const gen = this.gen;
    const n = Number(await this.o.redis.call('WAIT', String(this.waitReplicas), String(this.waitMs)));
    if (n < this.waitReplicas || gen !== this.gen) return;
    const keep = this.held.filter((h) => h.gen !== gen);
    for (const h of this.held) if (h.gen === gen) this.heldLines -= h.lines.length;
    this.held = keep;
  }

  /** Queue a warning line for lines dropped (queue full) or let go unconfirmed since the last report. */
  private reportLosses(): void {
    if (this.dropped > this.droppedReported) {
      const n = this.dropped - this.droppedReported;
      this.droppedReported = this.dropped;
      this.queue.unshift(
        this.stamp(this.warning(`dropped ${n} log lines while Redis was unavailable`, { dropped: n })),
      );
    }
    if (this.unconfirmed > this.unconfirmedReported) {
      const n = this.unconfirmed - this.unconfirmedReported;
      this.unconfirmedReported = this.unconfirmed;
      this.queue.unshift(
        this.stamp(
          this.warning(
            `${n} log lines were not confirmed by a Redis replica (WAIT) and are no longer held for re-sending`,
            { unconfirmed: n },
          ),
        ),
      );
    }
  }

  private warning(msg: string, extra: Record<string, number>): string {
    return JSON.stringify({
      level: 40,
      time: Date.now(),
      role: this.o.role,
      id: this.o.id,
      host: this.o.host,
      msg,
      ...extra,
    });
  }

  /** Flush what is queued (and get it confirmed), giving up after `timeoutMs`. */
  async drain(timeoutMs = 2000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while ((this.queue.length > 0 || this.held.length > 0) && Date.now() < until) {
      await this.flush();
      if (this.queue.length > 0 || this.held.length > 0) await new Promise((r) => setTimeout(r, 25));
    }
  }

  close(): void {
    clearInterval(this.timer);
    this.o.redis.off('close', this.onClose);
  }
}

function levelOf(line: string): string {
  const m = /"level":(\d+)/.exec(line);
  return (m && LEVELS[Number(m[1])]) || 'info';
}
