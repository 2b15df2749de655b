// Who is watching: every sync period this endpoint writes how many of its clients are on each movie's feed
// (one hash per endpoint, with a TTL, replaced whole) and reads the sum over every endpoint that wrote within
// the TTL. The sums go into `set_movies` as `watching` (1.1); each endpoint's part is at most one period old.
import type { Redis } from 'ioredis';
import {
  type RedisContract,
  WATCHING_MIN_TTL_MS,
  WATCHING_TTL_PERIODS,
} from '../../protocol/redis-contract.ts';
import { readWatching } from '../../protocol/watching.ts';
import type { Logger } from '../runtime/logger.ts';

export class WatchingSync {
  /** fleet-wide clients per movie id, as of the last read */
  totals: ReadonlyMap<number, number> = new Map();
  /** bumped whenever `totals` changed */
  version = 0;
  private timer?: NodeJS.Timeout;
  private running = false;
  private stopped = false;
  private readonly ttlMs: number;

  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisContract,
    private readonly id: string,
    private readonly periodMs: number,
    /** this endpoint's clients per movie right now */
    private readonly local: () => Map<number, number>,
    private readonly onChange: () => void,
    private readonly log: Logger,
  ) {
    this.ttlMs = Math.max(WATCHING_MIN_TTL_MS, periodMs * WATCHING_TTL_PERIODS);
  }

  start(): void {
    void this.tick();
    this.timer = setInterval(() => void this.tick(), this.periodMs);
    this.timer.unref();
  }

  /** Write this endpoint's counts, then read the fleet's. A tick still running (Redis slow) skips the next. */
  async tick(): Promise<void> {
    if (this.running || this.stopped) return;
    this.running = true;
    try {
      const key = this.keys.watching(this.id);
      const now = Date.now();
      const counts = this.local();
      const m = this.redis.multi().del(key);
      if (counts.size > 0) {
        m.hset(key, ...[...counts].flatMap(([movie, n]) => [String(movie), String(n)]));
        m.pexpire(key, this.ttlMs);
      }
      m.zadd(this.keys.watchingIndex, now, this.id);
      m.zremrangebyscore(this.keys.watchingIndex, '-inf', now - this.ttlMs);
      await m.exec();
      const totals = await readWatching(this.redis, this.keys);
      if (!sameCounts(totals, this.totals)) {
        this.totals = totals;
        this.version++;
        this.onChange();
      }
    } catch (err) {
      this.log.debug({ err: (err as Error).message }, 'watching counts not synced; retrying next period');
    } finally {
      this.running = false;
    }
  }

  /** Stop, and take this endpoint's counts out of the fleet's at once (best effort). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.redis
      .multi()
      .del(this.keys.watching(this.id))
      .zrem(this.keys.watchingIndex, this.id)
      .exec()
      .catch(() => {});
  }
}

function sameCounts(a: ReadonlyMap<number, number>, b: ReadonlyMap<number, number>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}
