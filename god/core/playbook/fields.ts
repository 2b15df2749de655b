// Small zod fields several step kinds and checks share (counts, process ids, names), and `orEmpty` for
// kinds that may be written with nothing after the colon (`down:`).
import { z } from 'zod';

export const count = z.number().int('must be a whole number').min(0, 'must be 0 or more');
export const positive = z.number().int('must be a whole number').min(1, 'must be 1 or more');
export const name = z
  .string()
  .regex(/^[A-Za-z0-9._-]+$/, 'may only hold letters, digits, dot, dash and underscore');
export const ids = z.array(z.string().min(1)).min(1, 'must list at least one process id');
/** text where an empty value (a variable left at "") means "not given" */
export const optionalText = z
  .string()
  .optional()
  .transform((v) => (v ? v : undefined));

/** A kind that may be left empty (`publish_endpoints:`, `down:`): null reads as {}. */
export const orEmpty = <T extends z.ZodType>(s: T) =>
  z.preprocess((v) => (v === null ? {} : v), s) as unknown as z.ZodType<z.output<T>, z.input<T>>;
