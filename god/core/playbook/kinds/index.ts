// The step kinds, one module each. The step schema (schema.ts), the `Step` type, STEP_KINDS, the hints
// (load.ts) and the dispatch (steps.ts) are built from this list: a new kind is a new module added here.
import type { z } from 'zod';
import { assert } from './assert.ts';
import { deploy } from './deploy.ts';
import { down } from './down.ts';
import type { KindStep, StepKindModule } from './kind.ts';
import { provision } from './provision.ts';
import { publishEndpoints } from './publish_endpoints.ts';
import { restart } from './restart.ts';
import { run } from './run.ts';
import { shed } from './shed.ts';
import { wait } from './wait.ts';

/** In the order playbooks/README.md lists them (and `names no step kind (…)` says them). */
export const STEP_KIND_MODULES = [
  provision,
  deploy,
  restart,
  wait,
  shed,
  publishEndpoints,
  run,
  assert,
  down,
] as const;

type Module = (typeof STEP_KIND_MODULES)[number];
export type StepKind = Module['kind'];
export const STEP_KINDS = STEP_KIND_MODULES.map((m) => m.kind) as unknown as readonly [
  StepKind,
  ...StepKind[],
];

/** The arguments' schema of each kind, by kind. */
export type KindArgs = { [M in Module as M['kind']]: M['args'] };

/** A step as the runner sees it: its kind and arguments (as the kind's schema gives them) pulled out. */
export type Step = { [K in StepKind]: KindStep<K, z.output<KindArgs[K]>> }[StepKind];

/** The module of a kind, loosely typed for dispatch (each module checks its own step's arguments). */
// biome-ignore lint/suspicious/noExplicitAny: dispatch over the union; each module is typed where defined
export function kindModule(kind: StepKind): StepKindModule<StepKind, any> {
  return STEP_KIND_MODULES.find((m) => m.kind === kind)! as StepKindModule<StepKind, z.ZodType>;
}
