// The schemas of flag and env var text both sides share: booleans and whole numbers (durations and sizes are
// kernel/units.ts).
import { z } from 'zod';
import { readBool } from './options.ts';

/** A boolean flag or env var: 1/true/yes/on are true, 0/false/no/off and "" are false (any other text: true). */
export const boolFlag = z
  .union([z.boolean(), z.string()])
  .transform((v) => (typeof v === 'boolean' ? v : readBool(v)));

/** A whole number from `min` to `max`, from a flag's text (or a number). */
export const intFrom = (min = 0, max = Number.MAX_SAFE_INTEGER) => {
  const wanted = `must be a whole number ${max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `from ${min} to ${max}`}`;
  return z.coerce.number({ error: wanted }).int(wanted).min(min, wanted).max(max, wanted);
};
