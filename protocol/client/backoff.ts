// Reconnect delays: exponential with jitter, so a fleet of clients cut at once does not come back at once.
export interface BackoffOptions {
  /** first delay (ms), default 250 */
  initialMs?: number;
  /** cap (ms), default 30 000 */
  maxMs?: number;
}

/** Delay before attempt `attempt` (0-based): a random value in [½, 1] of min(max, initial·2^attempt). */
export function backoffDelay(
  attempt: number,
  o: BackoffOptions = {},
  random: () => number = Math.random,
): number {
  const initial = o.initialMs ?? 250;
  const max = o.maxMs ?? 30_000;
  const ceiling = Math.min(max, initial * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling * (0.5 + random() * 0.5));
}
