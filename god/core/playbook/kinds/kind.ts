// What one step kind is: its arguments' schema, the hint for a problem in them, its default name and timeout,
// and how it plans (read-only: --dry-run prints it, a real run reports it as the step's changes) and runs.
// Each kind is one module in this folder exporting `defineKind({...})`; kinds/index.ts lists them, and the
// step schema, the `Step` type, STEP_KINDS and the hints are built from that list.
import type { z } from 'zod';
import type { ProviderKind } from '../../../../kernel/providers.ts';
import type { PlayContext, StepOutcome } from '../context.ts';

/** What every step has besides its kind and arguments (the common keys of a step in the file). */
export interface StepBase {
  index: number;
  name: string;
  line?: number;
  continue_on_error: boolean;
  timeout?: string;
  providers?: ProviderKind[];
}

/** A step of one kind, as its module sees it. */
export type KindStep<K extends string, A> = StepBase & { kind: K; args: A };

export interface StepKindModule<K extends string, S extends z.ZodType> {
  /** the key naming the kind in a step (`provision:`) */
  kind: K;
  /** its arguments (what follows the key) */
  args: S;
  /** one line saying what the arguments are, shown with a problem in them */
  hint: string;
  /** hints for problems under one argument (`wait.healthy`): argument → hint */
  argHints?: Record<string, string>;
  /** minimal valid arguments, as written in a playbook (the registry test parses them) */
  example: z.input<S> | null;
  /** the step's name in the output when it gives no `name:` */
  defaultName(args: z.output<S>): string;
  /** deadline when the step gives no `timeout` (a duration) */
  timeout: string;
  /** whether it acts on a running fleet (refused with GOD_NOT_RUNNING when none runs) */
  needsFleet: boolean | ((args: z.output<S>) => boolean);
  /** a check: never changes the fleet (no "nothing to change" line after it) */
  isCheck?: boolean;
  /** what it would change, read-only */
  plan(pc: PlayContext, s: KindStep<K, z.output<S>>, timeoutMs: number): Promise<string[]>;
  /** lines for the dry-run plan besides its changes (checks: what they will check) */
  describe?(s: KindStep<K, z.output<S>>, timeout: string): string[];
  /** do it; throws (a UserError saying what to do) when it fails */
  run(pc: PlayContext, s: KindStep<K, z.output<S>>, timeoutMs: number): Promise<StepOutcome>;
}

/** A step kind module (the identity: it keeps the kind's literal name and argument types). */
export const defineKind = <K extends string, S extends z.ZodType>(m: StepKindModule<K, S>) => m;
