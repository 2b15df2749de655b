// The checks of `wait` and `assert` steps (healthy, no_alerts, client, logs_archived, ...): one schema both kinds
// take as their arguments, the marks they measure from, and a hint per check. Behaviour: conditions.ts.
import { z } from 'zod';
import { durationText } from '../../../kernel/units.ts';
import { RoleSchema } from '../../../protocol/redis-contract.ts';
import { count, name, optionalText, positive } from './fields.ts';

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
const since = z.union([MarkSchema, durationText]);
const alertKind = z.enum(['silence', 'recovered', 'exception', 'digest', 'archive_down', 'archive_up']);
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

const MARK = "play, step, {before: STEP NAME} or {after: STEP NAME} (an earlier step's name:)";

/** A hint per check, for a problem under `wait.CHECK` / `assert.CHECK`. */
export const CHECK_HINTS: Record<(typeof CHECK_NAMES)[number], string> = {
  healthy: 'healthy takes role, count or at_least, and version.',
  no_alerts: `no_alerts: true, or {since, kinds: [silence, recovered, exception, digest]}; since is ${MARK} or a duration like 10m.`,
  alerts: `alerts takes at_least (1), kinds and since: ${MARK} or a duration like 10m (default step).`,
  client:
    'client takes count (1), source (registry, or a path/URL of endpoints.json), keep (a group name) and fresh (true: replace a kept group with new clients).',
  clients:
    'clients takes group (kept by an earlier client: {keep: NAME}), connected (all or N) and moved_at_least.',
  endpoints: 'endpoints takes healthy, at_least and busy_at_least (counts).',
  logs_archived: `logs_archived: true, or {until, since, allow_empty, archive}; until is ${MARK} (default step), since is stream (default) or a mark.`,
  replaced:
    'replaced takes steps: the names of earlier run steps that pick processes by role or ids (e.g. the kill of a drill).',
};

/** The hint of a `wait:` / `assert:` mapping as a whole. */
export const CONDITIONS_HINT = `A mapping of checks, all of which must hold: ${CHECK_NAMES.join(', ')}.`;
