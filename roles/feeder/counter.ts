// Tweets per movie over the past hour, in per-minute buckets.
//
// Semantics: a tweet counts in the minute bucket of the moment the feeder processed it (the feeder's clock,
// not the tweet's created_at, so replays of old recordings rank as live). The ranking at time t sums the
// buckets of the WINDOW_MINUTES minutes ending with the current one: minutes floor(t/60s)-59 … floor(t/60s).
// So a tweet counts from the moment it is processed until the end of the 59th minute after its own minute:
// at least 59 and at most 60 minutes, and it leaves the ranking exactly at a minute boundary. The same
// buckets are kept in Redis (hash per minute, TTL a little over an hour) so a restarted feeder resumes the
// ranking where it was.
import { COUNT_BUCKET_S } from '../../protocol/redis-contract.ts';

export const WINDOW_MINUTES = 60;

export const minuteOf = (ms: number) => Math.floor(ms / (COUNT_BUCKET_S * 1000));

export class WindowCounter {
  /** minute → movie id → count */
  private readonly buckets = new Map<number, Map<number, number>>();
  /** movie id → count over the window (the buckets' sum, kept up to date) */
  readonly totals = new Map<number, number>();
  private current = Number.NEGATIVE_INFINITY;

  constructor(private readonly now: () => number) {}

  /** Count one tweet for each movie; returns the minute it was counted in. */
  add(movies: readonly number[]): number {
    const minute = this.advance();
    let b = this.buckets.get(minute);
    if (!b) {
      b = new Map();
      this.buckets.set(minute, b);
    }
    for (const id of movies) {
      b.set(id, (b.get(id) ?? 0) + 1);
      this.totals.set(id, (this.totals.get(id) ?? 0) + 1);
    }
    return minute;
  }

  /** Merge counts read back from Redis (at start), for minutes inside the window. */
  load(minute: number, counts: Map<number, number>): void {
    const now = this.advance();
    if (minute <= now - WINDOW_MINUTES || minute > now) return;
    let b = this.buckets.get(minute);
    if (!b) {
      b = new Map();
      this.buckets.set(minute, b);
    }
    for (const [id, n] of counts) {
      b.set(id, (b.get(id) ?? 0) + n);
      this.totals.set(id, (this.totals.get(id) ?? 0) + n);
    }
  }

  /** Move to the current minute, dropping buckets that left the window. Returns the current minute. */
  advance(): number {
    const minute = minuteOf(this.now());
    if (minute === this.current) return minute;
    this.current = minute;
    const oldest = minute - WINDOW_MINUTES + 1;
    for (const [m, b] of this.buckets) {
      if (m >= oldest) continue;
      for (const [id, n] of b) {
        const left = (this.totals.get(id) ?? 0) - n;
        if (left > 0) this.totals.set(id, left);
        else this.totals.delete(id);
      }
      this.buckets.delete(m);
    }
    return minute;
  }

  /** Movies with a count in the window, most tweeted first (ties: lower id first), at most `limit`. */
  top(limit: number): Array<{ id: number; count: number }> {
    this.advance();
    const all = [...this.totals].map(([id, count]) => ({ id, count }));
    all.sort((a, b) => b.count - a.count || a.id - b.id);
    return all.slice(0, limit);
  }

  /** The minutes whose buckets are inside the window now (oldest first). */
  windowMinutes(): number[] {
    const now = minuteOf(this.now());
    return Array.from({ length: WINDOW_MINUTES }, (_, i) => now - WINDOW_MINUTES + 1 + i);
  }
}
