// The periodic summary line every long-running role logs: what it did in the interval (counters as deltas)
// and where it stands (gauges). It is also the role's sign of life for the keeper's silence alert, so the
// interval (--summary-interval, default 30s) must stay below the keeper's --silence (default 60s): a quiet
// but healthy role still logs, and only a role that stopped goes silent.
import type { Logger } from './logger.ts';

export interface RoleSummary {
  /** cumulative counters; the line shows how much each grew in the interval */
  totals?: Record<string, number>;
  /** values as they are now (clients connected, spool bytes) */
  now?: Record<string, number>;
}

export class SummaryTimer {
  private timer?: NodeJS.Timeout;
  private last: Record<string, number> = {};
  private lastAt = Date.now();
  lines = 0;

  constructor(
    private readonly o: { log: Logger; intervalMs: number; collect: () => RoleSummary | undefined },
  ) {}

  start(): void {
    this.last = { ...(this.o.collect()?.totals ?? {}) };
    this.lastAt = Date.now();
    this.timer = setInterval(() => this.emit(), this.o.intervalMs);
    this.timer.unref();
  }

  /** Log one summary line now (also what the timer does). */
  emit(): void {
    let s: RoleSummary | undefined;
    try {
      s = this.o.collect();
    } catch (err) {
      // a broken counter must not stop the sign of life
      this.o.log.warn({ err: (err as Error).message }, 'summary counters failed');
    }
    const now = Date.now();
    const delta: Record<string, number> = {};
    for (const [k, v] of Object.entries(s?.totals ?? {})) {
      if (!Number.isFinite(v)) continue;
      delta[k] = v - (this.last[k] ?? 0);
      this.last[k] = v;
    }
    const summary = { interval_s: Math.round((now - this.lastAt) / 100) / 10, ...delta, ...(s?.now ?? {}) };
    this.lastAt = now;
    this.lines++;
    this.o.log.info({ summary }, 'summary');
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
