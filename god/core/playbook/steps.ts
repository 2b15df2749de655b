// Plans and runs a step through its kind's module (kinds/): the dispatch, and the deadline each step gets.
import { durationMs } from '../../../kernel/units.ts';
import type { PlayContext, StepOutcome } from './context.ts';
import { kindModule, type Step } from './kinds/index.ts';

/** The step's `timeout`, else its kind's default. */
export const stepTimeout = (s: Step): string => s.timeout ?? kindModule(s.kind).timeout;
export const stepTimeoutMs = (s: Step): number => durationMs.parse(stepTimeout(s));

/** What the step would change, read-only (a dry run prints it; a real run compares against it). */
export function planStep(pc: PlayContext, s: Step): Promise<string[]> {
  return kindModule(s.kind).plan(pc, s, stepTimeoutMs(s));
}

/** Run the step; throws (a UserError saying what to do) when it fails. */
export function runStep(pc: PlayContext, s: Step): Promise<StepOutcome> {
  return kindModule(s.kind).run(pc, s, stepTimeoutMs(s));
}

/** Lines for the dry-run plan besides the changes (checks: what they will check). */
export function describeStep(s: Step): string[] {
  return kindModule(s.kind).describe?.(s, stepTimeout(s)) ?? [];
}

/** Whether the step acts on a running fleet (refused at once when none runs). */
export function needsFleet(s: Step): boolean {
  const n = kindModule(s.kind).needsFleet;
  return typeof n === 'function' ? n(s.args) : n;
}

/** A check (wait, assert): it never changes the fleet. */
export const isCheck = (s: Step): boolean => !!kindModule(s.kind).isCheck;
