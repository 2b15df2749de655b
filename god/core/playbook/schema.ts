// The playbook file (playbooks/*.yaml): a name, variables, ordered steps. One zod schema; the runner reads the
// types derived from it. A step is a mapping with exactly one kind key (provision, deploy, ...) plus the
// common keys (name, continue_on_error, timeout, providers). The kind keys and their arguments come from the
// kinds' modules (kinds/index.ts); the checks of wait/assert from conditions-schema.ts.
import { z } from 'zod';
import { PROVIDER_KINDS } from '../../../kernel/providers.ts';
import { durationText } from '../../../kernel/units.ts';
import type { Mark } from './conditions-schema.ts';
import { type KindArgs, STEP_KIND_MODULES, STEP_KINDS, type Step } from './kinds/index.ts';

export {
  CHECK_NAMES,
  type Conditions,
  ConditionsSchema,
  HealthyCheckSchema,
  LogsArchivedSchema,
  type Mark,
  MarkSchema,
} from './conditions-schema.ts';
export { STEP_KINDS, type Step, type StepKind } from './kinds/index.ts';

/** 250ms, 30s, 5m, 1h (as in the config and the roles' flags) */
export const DurationSchema = durationText;
export const PROVIDERS = PROVIDER_KINDS;

/** Each kind's key, taking its module's arguments. */
const kindKeys = Object.fromEntries(STEP_KIND_MODULES.map((m) => [m.kind, m.args.optional()])) as {
  [K in keyof KindArgs]: z.ZodOptional<KindArgs[K]>;
};

export const StepSchema = z
  .object({
    name: z.string().min(1).optional(),
    /** a failure is reported and the play goes on */
    continue_on_error: z.boolean().default(false),
    /** run the step only with these providers (e.g. [ssh, ec2] for shipping a release) */
    providers: z.array(z.enum(PROVIDERS)).min(1).optional(),
    /** wait/assert deadline, heartbeat wait of provision/restart, health check of deploy, run's limit */
    timeout: DurationSchema.optional(),
    ...kindKeys,
  })
  .strict()
  .superRefine((s, ctx) => {
    const kinds = STEP_KINDS.filter((k) => s[k] !== undefined);
    if (kinds.length === 0) {
      ctx.addIssue({ code: 'custom', path: [], message: `names no step kind (${STEP_KINDS.join(', ')})` });
    } else if (kinds.length > 1) {
      ctx.addIssue({
        code: 'custom',
        path: [kinds[1]!],
        message: `a step does one thing; this one names ${kinds.join(' and ')} (split it into ${kinds.length} steps)`,
      });
    }
  });
export type StepInput = z.output<typeof StepSchema>;

const VarValue = z.union([z.string(), z.number(), z.boolean()]);

export const PlaybookSchema = z
  .object({
    name: z.string().min(1),
    description: z.string().optional(),
    /** defaults, overridden by --var k=v, GOD_VAR_<NAME> and GOD_PLAY_VARS */
    vars: z
      .record(
        z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'variable names are letters, digits and _'),
        VarValue,
      )
      .default({}),
    steps: z.array(StepSchema).min(1, 'must list at least one step'),
  })
  .strict()
  .superRefine((pb, ctx) => checkReferences(pb.steps, ctx));
export type PlaybookInput = z.output<typeof PlaybookSchema>;

export interface Playbook {
  name: string;
  description?: string;
  /** absolute path of the file */
  file: string;
  /** the values in effect (defaults + overrides) */
  vars: Record<string, string | number | boolean>;
  steps: Step[];
}

/** A step named by a mark or `replaced` must be an earlier step with that `name:`, named once. */
function checkReferences(steps: StepInput[], ctx: z.RefinementCtx): void {
  const earlier = (i: number, ref: string, at: PropertyKey[]): number | undefined => {
    const hits = steps.flatMap((s, j) => (j < i && s.name === ref ? [j] : []));
    if (hits.length === 1) return hits[0];
    const later = steps.some((s, j) => j >= i && s.name === ref);
    ctx.addIssue({
      code: 'custom',
      path: at,
      message: hits.length
        ? `names "${ref}", which ${hits.length} earlier steps are called`
        : later
          ? `names "${ref}", which is not an earlier step (it comes at or after this one)`
          : `names "${ref}", but no step has that name`,
    });
    return undefined;
  };
  /** order of a mark within the play: play < before step j < after step j < before step j+1 … */
  const rank = (m: Mark | 'stream', i: number, at: PropertyKey[]): number | undefined => {
    if (m === 'stream') return -1;
    if (m === 'play') return 0;
    if (m === 'step') return 2 * i + 1;
    if ('before' in m) {
      const j = earlier(i, m.before, [...at, 'before']);
      return j === undefined ? undefined : 2 * j + 1;
    }
    const j = earlier(i, m.after, [...at, 'after']);
    return j === undefined ? undefined : 2 * j + 2;
  };
  steps.forEach((s, i) => {
    for (const kind of ['wait', 'assert'] as const) {
      const c = s[kind];
      if (!c) continue;
      const base = ['steps', i, kind];
      if (c.alerts && typeof c.alerts.since === 'object')
        rank(c.alerts.since, i, [...base, 'alerts', 'since']);
      if (c.no_alerts && c.no_alerts !== true && typeof c.no_alerts.since === 'object')
        rank(c.no_alerts.since, i, [...base, 'no_alerts', 'since']);
      if (c.logs_archived) {
        const la = c.logs_archived;
        const until = rank(la.until, i, [...base, 'logs_archived', 'until']);
        const from = rank(la.since, i, [...base, 'logs_archived', 'since']);
        if (until !== undefined && from !== undefined && until <= from) {
          ctx.addIssue({
            code: 'custom',
            path: [...base, 'logs_archived', 'until'],
            message: 'comes before since (or is the same point): the range of lines to check is empty',
          });
        }
      }
      c.replaced?.steps.forEach((ref, k) => {
        const at = [...base, 'replaced', 'steps', k];
        const j = earlier(i, ref, at);
        if (j === undefined) return;
        const r = steps[j]!.run;
        if (!r || !(r.role || r.ids)) {
          ctx.addIssue({
            code: 'custom',
            path: at,
            message: `names "${ref}", which is not a run step picking processes by role or ids`,
          });
        }
      });
    }
  });
}
