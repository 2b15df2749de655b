// The shape of one audit record (god/core/audit.ts writes and reads them; events.ts carries them as `audit`
// events). Only zod here, so the event union can import it without Redis or child processes.
import { z } from 'zod';

/** Who made the change: the OS user and host, and the CI job when one ran God (audit-who.ts). */
export const AuditActorSchema = z.strictObject({
  user: z.string(),
  host: z.string(),
  ci: z
    .strictObject({
      system: z.enum(['github', 'gitlab', 'ci']),
      /** the CI's user who started the job (GITHUB_ACTOR, GITLAB_USER_LOGIN), if it says */
      actor: z.string().nullable(),
      /** the run or job id (GITHUB_RUN_ID, CI_JOB_ID) */
      job: z.string().nullable(),
      /** a link to the run, when the CI gives enough to build one */
      url: z.string().nullable(),
    })
    .nullable(),
});
export type AuditActor = z.infer<typeof AuditActorSchema>;

const OptionValue = z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(z.string())]);

export const AuditRecordSchema = z.strictObject({
  /** the stream entry id (set when read back; absent in the record as written) */
  id: z.string().optional(),
  /** when the change began */
  at: z.string(),
  /** a name of AUDITED_ACTIONS (audit-actions.ts) */
  action: z.string(),
  who: AuditActorSchema,
  /** positional arguments, secrets scrubbed (kernel/redact.ts) */
  args: z.array(z.string()),
  /** the options as resolved (flags, env, defaults); secret options are `***`, strings scrubbed */
  options: z.record(z.string(), OptionValue),
  result: z.strictObject({
    ok: z.boolean(),
    /** the error's code (GOD_*), or null */
    code: z.string().nullable(),
    /** the error's message, scrubbed */
    message: z.string().nullable(),
  }),
  ms: z.number().int(),
});
export type AuditRecord = z.infer<typeof AuditRecordSchema>;
