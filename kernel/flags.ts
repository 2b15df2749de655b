// Boolean flags and env vars: 1/true/yes/on are true, 0/false/no/off and "" are false (any other text: true).
import { z } from 'zod';

const FALSE_WORDS = ['0', 'false', 'no', 'off', ''];

export const boolFlag = z
  .union([z.boolean(), z.string()])
  .transform((v) => (typeof v === 'boolean' ? v : !FALSE_WORDS.includes(v.toLowerCase())));
