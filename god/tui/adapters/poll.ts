import { sleep } from '../../../kernel/sleep.ts';

// Run `fn` every `ms` until `signal` aborts, never two at once; failures go to `onError` and the loop goes on.
export function every(
  ms: number,
  fn: () => Promise<unknown>,
  signal: AbortSignal,
  onError: (err: unknown) => void,
): Promise<void> {
  return (async () => {
    while (!signal.aborted) {
      const t0 = Date.now();
      try {
        await fn();
      } catch (err) {
        if (!signal.aborted) onError(err);
      }
      await sleep(Math.max(0, ms - (Date.now() - t0)), signal);
    }
  })();
}
