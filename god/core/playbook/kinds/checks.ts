// What the two check kinds (`wait`, `assert`) share: their arguments, hints and default name.
import { CHECK_HINTS, CONDITIONS_HINT, type Conditions, ConditionsSchema } from '../conditions-schema.ts';
import { type CheckMemo, evaluate } from '../conditions.ts';
import type { PlayContext } from '../context.ts';

export const checkKind = {
  args: ConditionsSchema,
  hint: CONDITIONS_HINT,
  argHints: CHECK_HINTS,
  example: { healthy: {} },
  needsFleet: true,
  isCheck: true,
  plan: async () => [],
};

export const checksNamed = (kind: string, c: Conditions) =>
  `${kind} ${Object.keys(c)
    .filter((k) => c[k as keyof Conditions] !== undefined)
    .join(', ')}`;

export async function checkOnce(pc: PlayContext, c: Conditions, memo: CheckMemo, timeoutMs: number) {
  const res = await evaluate(pc, c, memo, timeoutMs);
  return { ok: res.every((r) => r.ok), res };
}
