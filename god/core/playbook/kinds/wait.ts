// `wait: CHECKS`: poll the checks every 0.5 s until all hold, up to the step's timeout.
import { UserError } from '../../../../kernel/errors.ts';
import { sleep } from '../../../../kernel/sleep.ts';
import { type CheckMemo, closeMemo, describeConditions } from '../conditions.ts';
import { checkKind, checkOnce, checksNamed } from './checks.ts';
import { defineKind } from './kind.ts';

export const wait = defineKind({
  ...checkKind,
  kind: 'wait',
  defaultName: (a) => checksNamed('wait', a),
  timeout: '120s',
  describe: (s, timeout) => [`wait up to ${timeout} for: ${describeConditions(s.args).join('; ')}`],
  async run(pc, s, timeoutMs) {
    const until = Date.now() + timeoutMs;
    const memo: CheckMemo = new Map();
    try {
      for (;;) {
        const left = Math.max(1000, until - Date.now());
        const { ok, res } = await checkOnce(pc, s.args, memo, Math.min(left, 15_000));
        if (ok) return { changed: false, changes: [], detail: res.map((r) => r.detail).join('; ') };
        if (Date.now() >= until || pc.signal?.aborted) {
          throw new UserError(
            `still not true after ${Math.round(timeoutMs / 1000)} s: ${res
              .filter((r) => !r.ok)
              .map((r) => `${r.check}: ${r.detail}`)
              .join('; ')}`,
            {
              code: 'GOD_TIMEOUT',
              hint: 'Give the step a longer timeout if the fleet is just slow; else see `god status` and `god logs --level warn`.',
            },
          );
        }
        await sleep(500);
      }
    } finally {
      closeMemo(memo);
    }
  },
});
