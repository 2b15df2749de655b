// Ships log lines into the Redis log stream without ever blocking the role:
// a bounded in-memory queue, batched XADDs, counted drops while Redis is away.
import type { Redis } from 'ioredis';
import { LOG_STREAM_MAXLEN } from '../../protocol/redis-contract.ts';

export interface LogSinkOptions {
  redis: Redis;
  stream: string;
  role: string;
  id: string;
  host: string;
  maxQueue?: number;
  batch?: number;
  flushMs?: number;
}

const LEVELS: Record<number, string> = {
  10: 'trace',
  20: 'debug',
  30: 'info',
  40: 'warn',
  50: 'error',
  60: 'fatal',
};

export class RedisLogSink {
  private queue: string[] = [];
  private flushing = false;
  private timer: NodeJS.Timeout;
  /** lines dropped because the queue was full; reported in heartbeats and once Redis is back */
  dropped = 0;
  private droppedReported = 0;
  shipped = 0;
  private readonly maxQueue: number;
  private readonly batch: number;

  constructor(private readonly o: LogSinkOptions) {
    this.maxQueue = o.maxQueue ?? 20_000;
    this.batch = o.batch ?? 1000;
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
    this.queue.push(line.endsWith('\n') ? line.slice(0, -1) : line);
    if (this.queue.length >= this.batch) void this.flush();
  }

  get pending(): number {
    return this.queue.length;
  }

  async flush(): Promise<void> {
    if (this.flushing || this.queue.length === 0) return;
    if (this.o.redis.status !== 'ready') return;
    this.flushing = true;
    try {
      while (this.queue.length > 0 && this.o.redis.status === 'ready') {
        if (this.dropped > this.droppedReported) {
          const n = this.dropped - this.droppedReported;
          this.droppedReported = this.dropped;
          this.queue.unshift(
            JSON.stringify({
              level: 40,
              time: Date.now(),
              role: this.o.role,
              id: this.o.id,
              host: this.o.host,
              msg: `dropped ${n} log lines while Redis was unavailable`,
              dropped: n,
            }),
          );
        }
        const lines = this.queue.slice(0, this.batch);
        const p = this.o.redis.pipeline();
        for (const line of lines) {
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
          );
        }
        const res = await p.exec();
        const failed = res?.findIndex(([err]) => err) ?? -1;
        const ok = failed === -1 ? lines.length : failed;
        this.queue.splice(0, ok);
        this.shipped += ok;
        if (failed !== -1) break;
      }
    } catch {
      // Redis went away mid-flush; lines stay queued for the next attempt.
    } finally {
      this.flushing = false;
    }
  }

  /** Flush what is queued, giving up after `timeoutMs`. */
  async drain(timeoutMs = 2000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (this.queue.length > 0 && Date.now() < until) {
      await this.flush();
      if (this.queue.length > 0) await new Promise((r) => setTimeout(r, 25));
    }
  }

  close(): void {
    clearInterval(this.timer);
  }
}

function levelOf(line: string): string {
  const m = /"level":(\d+)/.exec(line);
  return (m && LEVELS[Number(m[1])]) || 'info';
}
