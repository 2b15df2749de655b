// Counters of one endpoint process, turned into heartbeat gauges.
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
  idleClosed = 0;
  /** live lines dropped while a client waited for its recent tweets (its hold buffer was full) */
  heldDropped = 0;

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
