// Reconnect delays as Twitter asks for them on its filtered stream:
// network errors back off linearly by 250 ms up to 16 s; HTTP errors exponentially from 5 s up to 320 s;
// HTTP 429 exponentially from 1 minute. `scale` shrinks every delay (tests use 0.01).
export type FailureKind = 'network' | 'http' | 'rate_limit';

const CAPS: Record<FailureKind, (n: number) => number> = {
  network: (n) => Math.min(250 * n, 16_000),
  http: (n) => Math.min(5_000 * 2 ** (n - 1), 320_000),
  rate_limit: (n) => Math.min(60_000 * 2 ** (n - 1), 960_000),
};

export class StreamBackoff {
  private attempts: Record<FailureKind, number> = { network: 0, http: 0, rate_limit: 0 };

  constructor(private readonly scale = 1) {}

  /** The delay before the next attempt after a failure of this kind. */
  next(kind: FailureKind): number {
    this.attempts[kind]++;
    return Math.round(CAPS[kind](this.attempts[kind]) * this.scale);
  }

  /** A connection delivered data: start over. */
  reset(): void {
    this.attempts = { network: 0, http: 0, rate_limit: 0 };
  }
}
