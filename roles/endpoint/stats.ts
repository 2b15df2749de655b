// Counters of one endpoint process, turned into heartbeat gauges.
import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';

/** Sampling interval of the event-loop delay monitor, ms. */
const LOOP_RESOLUTION_MS = 10;

/** Event-loop delay of this process (how late a timer due now runs): every client's latency includes it. */
export class LoopDelay {
  private h: IntervalHistogram | null = null;

  start(): void {
    this.h ??= monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
    this.h.enable();
  }

  stop(): void {
    this.h?.disable();
  }

  /** p50/p99/max in ms since the previous call (then reset, so each heartbeat shows its own interval). The
   * monitor records whole sampling intervals; the interval itself is taken off, leaving the delay. */
  read(): { loop_delay_p50_ms: number; loop_delay_p99_ms: number; loop_delay_max_ms: number } {
    const h = this.h;
    const ms = (ns: number) => Math.max(0, Math.round(ns / 1e4) / 100 - LOOP_RESOLUTION_MS);
    const out =
      h && h.count > 0
        ? {
            loop_delay_p50_ms: ms(h.percentile(50)),
            loop_delay_p99_ms: ms(h.percentile(99)),
            loop_delay_max_ms: ms(h.max),
          }
        : { loop_delay_p50_ms: 0, loop_delay_p99_ms: 0, loop_delay_max_ms: 0 };
    h?.reset();
    return out;
  }
}

export class EndpointStats {
  /** messages written to clients (one tweet to 100 clients counts 100) */
  msgsOut = 0;
  bytesOut = 0;
  slowConsumers = 0;
  /** connections refused with `server_full` */
  rejected = 0;
  /** connections or clients sent to another endpoint with `reconnect` */
  redirected = 0;
  rateLimited = 0;
  /** connections closed for being far over the rate limit */
  rateClosed = 0;
  idleClosed = 0;
  /** connections closed for sending no `connect` in time */
  connectTimeouts = 0;
  /** connections refused with `too_many_connections` */
  perIpRefused = 0;
  /** requests answered `unavailable` (Redis down) */
  unavailable = 0;
  /** client lines that were JSON-parsed (lines over the rate limit are not) */
  parsedLines = 0;
  /** live lines dropped while a client waited for its recent tweets (its hold buffer was full) */
  heldDropped = 0;
  /** signed connections: tokens refused (by reason), sessions closed at expiry, refreshes accepted */
  readonly authRefused = new Map<string, number>();
  authExpired = 0;
  tokenRefreshes = 0;
  // for /metrics (roles/endpoint/metrics.ts); Maps keyed by a value of a fixed set (an action, a code, a reason)
  accepted = 0;
  /** tweet lines written to clients (one tweet to 100 clients counts 100) */
  tweetsOut = 0;
  readonly msgsIn = new Map<string, number>();
  readonly errorFrames = new Map<string, number>();
  readonly redirects = new Map<string, number>();

  private lastAt = Date.now();
  private lastMsgs = 0;
  private lastBytes = 0;

  /** Per-second rates since the previous call. */
  rates(): { msgs_out_per_s: number; bytes_out_per_s: number } {
    const now = Date.now();
    const dt = Math.max(1, now - this.lastAt) / 1000;
    const out = {
      msgs_out_per_s: Math.round((this.msgsOut - this.lastMsgs) / dt),
      bytes_out_per_s: Math.round((this.bytesOut - this.lastBytes) / dt),
    };
    this.lastAt = now;
    this.lastMsgs = this.msgsOut;
    this.lastBytes = this.bytesOut;
    return out;
  }
}
