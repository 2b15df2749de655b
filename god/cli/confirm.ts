// Destructive commands (down, rollback, lock release) ask first on a terminal; scripts pass --yes. Without a
// terminal and without --yes they refuse rather than guess: a CI job that forgot the flag stops, it does not
// take the fleet down.
import { createInterface } from 'node:readline/promises';
import { UserError } from '../../kernel/errors.ts';
import type { CliContext } from './context.ts';

/** Interactive when a person can answer: both ends a terminal, not CI, not --json. */
export function canAsk(ctx: CliContext): boolean {
  return !!process.stdin.isTTY && !!process.stderr.isTTY && !ctx.env.CI && !ctx.opts.json;
}

/** Ask a y/N question on the terminal. */
export async function askYesNo(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
  } finally {
    rl.close();
  }
}

/**
 * Go on only with the operator's yes: `--yes`, or "y" on the terminal. No terminal and no --yes: GOD_CONFIRM
 * naming the flag. A "no" is GOD_CANCELLED (nothing changed). `ask` is the terminal question (tests inject it).
 */
export async function confirm(
  ctx: CliContext,
  o: { yes: boolean; what: string; command: string; ask?: (q: string) => Promise<boolean> },
): Promise<void> {
  if (o.yes) return;
  const ask = o.ask ?? (canAsk(ctx) ? askYesNo : undefined);
  if (!ask) {
    throw new UserError(`god ${o.command} would ${o.what}, and there is no terminal to confirm it on`, {
      code: 'GOD_CONFIRM',
      hint: `Pass --yes (or set GOD_YES=1) to ${o.command} without asking, e.g. god ${o.command} --yes`,
    });
  }
  if (!(await ask(`${o.what[0]!.toUpperCase()}${o.what.slice(1)}?`))) {
    throw new UserError(`god ${o.command} cancelled: nothing was changed`, { code: 'GOD_CANCELLED' });
  }
}
