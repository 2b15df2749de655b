// Plans and runs a step through its kind's module (kinds/): the dispatch, and the deadline each step gets.
import { durationMs } from '../../../kernel/units.ts';
import type { PlayContext, StepOutcome } from './context.ts';
import { kindModule, type Step } from './kinds/index.ts';

/** The step's `timeout`, else its kind's default. */
export const stepTimeout = (step: Step): string => step.timeout ?? kindModule(step.kind).timeout;
export const stepTimeoutMs = (step: Step): number => durationMs.parse(stepTimeout(step));

/** What the step would change, read-only (a dry run prints it; a real run compares against it). */
export function planStep(ctx: PlayContext, step: Step): Promise<string[]> {
  return kindModule(step.kind).plan(ctx, step, stepTimeoutMs(step));
}

/** Run the step; throws (a UserError saying what to do) when it fails. */
export function runStep(ctx: PlayContext, step: Step): Promise<StepOutcome> {
  return kindModule(step.kind).run(ctx, step, stepTimeoutMs(step));
}

/** Lines for the dry-run plan besides the changes (checks: what they will check). */
export function describeStep(step: Step): string[] {
  return kindModule(step.kind).describe?.(step, stepTimeout(step)) ?? [];
}

/** Whether the step acts on a running fleet (refused at once when none runs). */
export function needsFleet(step: Step): boolean {
  const needs = kindModule(step.kind).needsFleet;
  return typeof needs === 'function' ? needs(step.args) : needs;
}

/** A check (wait, assert): it never changes the fleet. */
export const isCheck = (step: Step): boolean => !!kindModule(step.kind).isCheck;
