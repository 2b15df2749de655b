// The playbook file (playbooks/*.yaml): a name, variables, ordered steps. One zod schema; the runner reads the
// types derived from it. A step is a mapping with exactly one kind key (provision, deploy, ...) plus the
// common keys (name, continue_on_error, timeout).
import { z } from 'zod';
import { PROVIDER_KINDS } from '../../../kernel/providers.ts';
import { durationText } from '../../../kernel/units.ts';
import { RoleSchema } from '../../../protocol/redis-contract.ts';

export const STEP_KINDS = [
  'provision',
  'deploy',
  'restart',
  'wait',
  'shed',
  'publish_endpoints',
  'run',
  'assert',
  'down',
] as const;
export type StepKind = (typeof STEP_KINDS)[number];

/** 250ms, 30s, 5m, 1h (as in the config and the roles' flags) */
export const DurationSchema = durationText;

const count = z.number().int('must be a whole number').min(0, 'must be 0 or more');
const positive = z.number().int('must be a whole number').min(1, 'must be 1 or more');
const name = z.string().regex(/^[A-Za-z0-9._-]+$/, 'may only hold letters, digits, dot, dash and underscore');
const ids = z.array(z.string().min(1)).min(1, 'must list at least one process id');
/**
 * A point in the play, on the fleet Redis's clock: `play` (the play started), `step` (this step started), or
 * an earlier step by its `name:` — `{before: NAME}` as it started, `{after: NAME}` as it ended.
 */
export const MarkSchema = z.union([
  z.literal('play'),
  z.literal('step'),
  z.object({ before: z.string().min(1) }).strict(),
  z.object({ after: z.string().min(1) }).strict(),
]);
export type Mark = z.output<typeof MarkSchema>;
/** a mark, or a duration back from now (Redis's now) */
const since = z.union([MarkSchema, DurationSchema]);
const alertKind = z.enum(['silence', 'recovered', 'exception', 'digest', 'archive_down', 'archive_up']);
/** text where an empty value (a variable left at "") means "not given" */
const optionalText = z
  .string()
  .optional()
  .transform((v) => (v ? v : undefined));
export const PROVIDERS = PROVIDER_KINDS;

export const ProvisionSchema = z
  .object({
    role: RoleSchema,
    count,
    /** wait for the role's heartbeats after converging (default true) */
    wait: z.boolean().default(true),
  })
  .strict();

export const DeploySchema = z
  .object({
    roles: z.array(RoleSchema).min(1).optional(),
    /** release name (default, or empty: bundle version + content hash) */
    version: optionalText,
    /** hosts (local: processes) per batch, N or "N%" */
    batch: z.union([positive, z.string().regex(/^\d+%?$/, 'must be N or N%')]).optional(),
    /** health-check restarted processes (default true) */
    health: z.boolean().default(true),
    bundle_dir: optionalText,
    build: z.boolean().default(false),
  })
  .strict();

export const RestartSchema = z
  .object({ role: RoleSchema.optional(), ids: ids.optional(), wait: z.boolean().default(true) })
  .strict();

export const HealthyCheckSchema = z
  .object({
    role: RoleSchema.optional(),
    /** exactly this many up (default: every process the fleet expects) */
    count: count.optional(),
    at_least: count.optional(),
    /** and reporting this release (empty: any) */
    version: optionalText,
  })
  .strict()
  .refine((o) => o.count === undefined || o.at_least === undefined, {
    message: 'give count or at_least, not both',
  });

export const CHECK_NAMES = [
  'healthy',
  'no_alerts',
  'alerts',
  'client',
  'clients',
  'endpoints',
  'logs_archived',
  'replaced',
] as const;

export const LogsArchivedSchema = z
  .object({
    /** the reference point: every line written before it must be archived (default: as this step starts) */
    until: MarkSchema.default('step'),
    /** from where: `stream` (default: the oldest line Redis still holds) or a mark (lines written after it) */
    since: z.union([z.literal('stream'), MarkSchema]).default('stream'),
    /** pass when no line was written between the two (default false: an empty range proves nothing) */
    allow_empty: z.boolean().default(false),
    /** s3://BUCKET/PREFIX, file://DIR or a folder (default: the keeper's archive target) */
    archive: z.string().min(1).optional(),
  })
  .strict();

export const ConditionsSchema = z
  .object({
    /** processes beating (state up), by role, count and release */
    healthy: HealthyCheckSchema.optional(),
    /** no alert in the keepers' alerts stream */
    no_alerts: z
      .union([
        z.literal(true),
        z.object({ since: since.default('play'), kinds: z.array(alertKind).optional() }).strict(),
      ])
      .optional(),
    /** at least N alerts in the alerts stream, raised since this step started (or `since`) */
    alerts: z
      .object({
        at_least: positive.default(1),
        kinds: z.array(alertKind).optional(),
        since: since.default('step'),
      })
      .strict()
      .optional(),
    /** protocol clients (the client SDK) connect and get `set_movies` */
    client: z
      .object({
        count: positive.max(1000, 'must be at most 1000').default(1),
        /** registry (default: the list built from the endpoint registry), or an endpoints.json path/URL */
        source: z.string().min(1).default('registry'),
        /** keep these clients connected under this name for later `clients` checks */
        keep: name.optional(),
        /** with keep: close a group an earlier step kept under that name and connect new clients */
        fresh: z.boolean().default(false),
      })
      .strict()
      .refine((o) => !o.fresh || o.keep, { message: 'fresh replaces a kept group: give keep too' })
      .optional(),
    /** a group of clients kept by an earlier `client: {keep: NAME}` */
    clients: z
      .object({
        group: name,
        /** `all` (default) or at least N connected with their `set_movies` */
        connected: z.union([z.literal('all'), count]).default('all'),
        /** at least N clients now on another endpoint than the one they first joined */
        moved_at_least: count.optional(),
      })
      .strict()
      .optional(),
    /** the endpoint registry */
    endpoints: z
      .object({
        healthy: count.optional(),
        at_least: count.optional(),
        /** at least N endpoints serve one client or more */
        busy_at_least: count.optional(),
      })
      .strict()
      .optional(),
    /** every log line written between two marks is in the archive (read back from S3 or the folder) */
    logs_archived: z
      .union([z.literal(true).transform(() => LogsArchivedSchema.parse({})), LogsArchivedSchema])
      .optional(),
    /** the processes an earlier `run` step was pointed at (its GOD_PIDS) beat again as new processes */
    replaced: z
      .object({ steps: z.array(z.string().min(1)).min(1, 'must name at least one step') })
      .strict()
      .optional(),
  })
  .strict()
  .refine((o) => Object.values(o).some((v) => v !== undefined), {
    message: `must name at least one check (${CHECK_NAMES.join(', ')})`,
  });
export type Conditions = z.output<typeof ConditionsSchema>;

export const ShedSchema = z
  .object({
    /** an endpoint id, or `busiest` (the one with the most clients) */
    endpoint: z.string().min(1),
    clients: positive,
  })
  .strict();

export const PublishSchema = z
  .object({
    /** s3://BUCKET/PREFIX, file://DIR or a folder (default: the keeper's archive target) */
    target: z.string().min(1).optional(),
  })
  .strict();

export const RunSchema = z
  .object({
    command: z.string().min(1),
    /** hosts running this role (local: this machine); GOD_PIDS holds the pids of its processes there */
    role: RoleSchema.optional(),
    /** hosts by inventory name */
    hosts: z.array(z.string().min(1)).min(1).optional(),
    /** only these processes (GOD_PIDS) */
    ids: ids.optional(),
    expect_exit: z.number().int().min(0).max(255).default(0),
  })
  .strict();

export const DownSchema = z.object({ role: RoleSchema.optional(), ids: ids.optional() }).strict();

/** `publish_endpoints:` and `down:` may be left empty. */
const orEmpty = <T extends z.ZodType>(s: T) =>
  z.preprocess((v) => (v === null ? {} : v), s) as unknown as z.ZodType<z.output<T>, z.input<T>>;

export const StepSchema = z
  .object({
    name: z.string().min(1).optional(),
    /** a failure is reported and the play goes on */
    continue_on_error: z.boolean().default(false),
    /** run the step only with these providers (e.g. [ssh, ec2] for shipping a release) */
    providers: z.array(z.enum(PROVIDERS)).min(1).optional(),
    /** wait/assert deadline, heartbeat wait of provision/restart, health check of deploy, run's limit */
    timeout: DurationSchema.optional(),
    provision: ProvisionSchema.optional(),
    deploy: orEmpty(DeploySchema).optional(),
    restart: orEmpty(RestartSchema).optional(),
    wait: ConditionsSchema.optional(),
    shed: ShedSchema.optional(),
    publish_endpoints: orEmpty(PublishSchema).optional(),
    run: RunSchema.optional(),
    assert: ConditionsSchema.optional(),
    down: orEmpty(DownSchema).optional(),
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

/** A step as the runner sees it: its kind and arguments pulled out. */
export type Step = {
  index: number;
  name: string;
  line?: number;
  continue_on_error: boolean;
  timeout?: string;
  providers?: Array<(typeof PROVIDERS)[number]>;
} & (
  | { kind: 'provision'; args: z.output<typeof ProvisionSchema> }
  | { kind: 'deploy'; args: z.output<typeof DeploySchema> }
  | { kind: 'restart'; args: z.output<typeof RestartSchema> }
  | { kind: 'wait'; args: Conditions }
  | { kind: 'shed'; args: z.output<typeof ShedSchema> }
  | { kind: 'publish_endpoints'; args: z.output<typeof PublishSchema> }
  | { kind: 'run'; args: z.output<typeof RunSchema> }
  | { kind: 'assert'; args: Conditions }
  | { kind: 'down'; args: z.output<typeof DownSchema> }
);

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
