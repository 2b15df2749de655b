// `assert: CHECKS`: the checks once (client connections bounded by the step's timeout).
import { UserError } from '../../../../kernel/errors.ts';
import { type CheckMemo, closeMemo, describeConditions } from '../conditions.ts';
import { checkKind, checkOnce, checksNamed } from './checks.ts';
import { defineKind } from './kind.ts';

export const assert = defineKind({
  ...checkKind,
  kind: 'assert',
  defaultName: (a) => checksNamed('assert', a),
  timeout: '30s',
  describe: (s) => [`check: ${describeConditions(s.args).join('; ')}`],
  async run(pc, s, timeoutMs) {
    const memo: CheckMemo = new Map();
    const { ok, res } = await checkOnce(pc, s.args, memo, timeoutMs).finally(() => closeMemo(memo));
    for (const r of res) {
      pc.events.emit({
        type: r.ok ? 'info' : 'error',
        message: `${r.ok ? '✓' : '✗'} ${r.check}: ${r.detail}`,
      });
    }
    if (!ok) {
      throw new UserError(
        `assertion failed: ${res
          .filter((r) => !r.ok)
          .map((r) => `${r.check}: ${r.detail}`)
          .join('; ')}`,
        {
          code: 'GOD_ASSERT',
          hint: 'See `god status`, `god endpoints` and `god logs --level warn` for why.',
        },
      );
    }
    return { changed: false, changes: [], detail: res.map((r) => r.detail).join('; ') };
  },
});
