import { describe, expect, it } from 'vitest';
import { sleep } from '../../kernel/sleep.ts';

describe('sleep', () => {
  it('resolves after the time, and at once (never rejecting) when its signal aborts', async () => {
    await expect(sleep(1)).resolves.toBeUndefined();
    // an hour-long sleep: the test only ends because the abort ends it
    const ac = new AbortController();
    const long = sleep(3_600_000, ac.signal);
    ac.abort();
    await expect(long).resolves.toBeUndefined();
    await expect(sleep(3_600_000, AbortSignal.abort())).resolves.toBeUndefined();
  });
});
