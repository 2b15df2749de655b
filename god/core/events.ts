// God's event stream: every service reports through it; the TUI, plain lines and --json NDJSON all read it.
// One zod union owns the shapes: emitters are typed by it, `--json` lines are checked against it (tests), and
// god/EVENTS.md's examples are parsed with it (test/god/events-doc.test.ts). A new event or field goes here.
import { EventEmitter } from 'node:events';
import { z } from 'zod';
import { AuditRecordSchema } from './audit-record.ts';
import { PlannedChangeSchema } from './providers/types.ts';

// ---- what `data` holds, per event type ----

/** `data` of a play's start event (`god play`). */
export const PlayStartDataSchema = z.strictObject({
  play: z.string(),
  file: z.string(),
  steps: z.number().int(),
  dry_run: z.boolean(),
  vars: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])),
});
/** `data` of a play's end event. */
export const PlayEndDataSchema = z.strictObject({
  play: z.string(),
  /** steps that changed something (dry run: would) */
  changed: z.number().int(),
  failed_step: z.object({ index: z.number().int(), name: z.string(), error: z.string() }).nullable(),
  dry_run: z.boolean(),
});
/** `data` of a playbook step's start and end events; `kind` is a step kind (the playbook narrows it). */
export const PlayStepDataSchema = z.strictObject({
  play: z.string(),
  index: z.number().int(),
  of: z.number().int(),
  kind: z.string(),
  name: z.string(),
  status: z.enum(['running', 'ok', 'failed', 'skipped', 'planned']),
  changed: z.boolean().nullable().optional(),
  changes: z.array(z.string()).optional(),
  dry_run: z.boolean(),
});
export const StepDataSchema = z.union([PlayStartDataSchema, PlayEndDataSchema, PlayStepDataSchema]);

/** `data` of info events: the facts behind the message, for scripts. */
export const InfoDataSchema = z.union([
  /** a process God started for the fleet (private redis-server, the local supervisor) */
  z.strictObject({ pid: z.number().int() }),
  /** `god run`: the local fleet is up */
  z.strictObject({ redis_url: z.string(), state_dir: z.string(), pid: z.number().int() }),
  /** a deploy's release */
  z.strictObject({ version: z.string(), hosts: z.number().int(), batches: z.number().int() }),
  /** a provider made one change of its plan (ec2: a security group, key pair, instance …) */
  z.strictObject({ change: PlannedChangeSchema }),
  /** `--lock-wait`: the deploy lock is held; God waits for it (who holds it) */
  z.strictObject({ lock_owner: z.string().nullable(), lock_what: z.string().nullable() }),
  /** the config's secrets were resolved for the hosts: where each came from, never its value */
  z.strictObject({
    secrets: z.array(
      z.strictObject({
        name: z.string(),
        source: z.enum(['env', 'file', 'ssm', 'secretsmanager']),
        ref: z.string(),
        roles: z.array(z.string()),
      }),
    ),
  }),
]);

/** `data` of a host event of the `exec` step (`god exec`): the command's exit status on that host. */
export const ExecDataSchema = z.strictObject({
  code: z.number().int().nullable(),
  signal: z.string().nullable(),
});

/** `data` of a host event of the `drain` step (`god down` of endpoints): clients still held, of how many. */
export const DrainDataSchema = z.strictObject({
  clients: z.number().int(),
  /** clients the endpoint held when the drain began */
  of: z.number().int(),
});

/** `data` of error events: one problem of a playbook file (before the fatal error line). */
export const ProblemDataSchema = z.strictObject({
  file: z.string(),
  line: z.number().int().nullable(),
  column: z.number().int().nullable(),
  path: z.string(),
});

// ---- the events ----

const StepEventSchema = z.strictObject({
  type: z.literal('step'),
  step: z.string(),
  phase: z.enum(['start', 'end']),
  ok: z.boolean().optional(),
  error: z.string().optional(),
  ms: z.number().optional(),
  data: StepDataSchema.optional(),
});
/** one host's progress in a step (deploy upload, restart, health check...) */
const HostEventSchema = z.strictObject({
  type: z.literal('host'),
  step: z.string(),
  host: z.string(),
  phase: z.enum(['start', 'progress', 'end']),
  detail: z.string().optional(),
  /** 0..1 for uploads and waits */
  progress: z.number().min(0).max(1).optional(),
  ok: z.boolean().optional(),
  error: z.string().optional(),
  ms: z.number().optional(),
  data: z.union([DrainDataSchema, ExecDataSchema]).optional(),
});
const MachineEventSchema = z.strictObject({
  type: z.literal('machine'),
  action: z.enum(['created', 'running', 'terminated', 'exists']),
  id: z.string(),
  role: z.string(),
  address: z.string().optional(),
});
const ProcessEventSchema = z.strictObject({
  type: z.literal('process'),
  action: z.enum(['started', 'exited', 'restarting', 'stopped']),
  role: z.string(),
  id: z.string(),
  pid: z.number().int().optional(),
  code: z.number().int().nullable().optional(),
  detail: z.string().optional(),
});
const InfoEventSchema = z.strictObject({
  type: z.literal('info'),
  message: z.string(),
  hint: z.string().optional(),
  data: InfoDataSchema.optional(),
});
const WarnEventSchema = z.strictObject({
  type: z.literal('warn'),
  message: z.string(),
  hint: z.string().optional(),
});
/** one line a command printed on a host (`god exec`), as it came */
const OutputEventSchema = z.strictObject({
  type: z.literal('output'),
  host: z.string(),
  stream: z.enum(['stdout', 'stderr']),
  line: z.string(),
});
/** not fatal: the command goes on (its fatal error is the last line, output.ts' ErrorLineSchema) */
const ErrorEventSchema = z.strictObject({
  type: z.literal('error'),
  message: z.string(),
  hint: z.string().optional(),
  data: ProblemDataSchema.optional(),
});

/** a change God made was recorded in the audit trail (god/core/audit.ts); `record.id` is unset if not stored */
const AuditEventSchema = z.strictObject({
  type: z.literal('audit'),
  record: AuditRecordSchema,
});

const EVENT_SCHEMAS = [
  StepEventSchema,
  HostEventSchema,
  MachineEventSchema,
  ProcessEventSchema,
  InfoEventSchema,
  WarnEventSchema,
  ErrorEventSchema,
  OutputEventSchema,
  AuditEventSchema,
] as const;

export const GodEventSchema = z.discriminatedUnion('type', EVENT_SCHEMAS);
export type GodEvent = z.infer<typeof GodEventSchema>;
export type GodEventType = GodEvent['type'];
export const GOD_EVENT_TYPES = EVENT_SCHEMAS.map((s) => s.shape.type.value);

const AT = { at: z.string() };
/** An event as it went by: with the time it was emitted (the bus stamps it; `--json` prints it so). */
export const StampedEventSchema = z.discriminatedUnion('type', [
  StepEventSchema.extend(AT),
  HostEventSchema.extend(AT),
  MachineEventSchema.extend(AT),
  ProcessEventSchema.extend(AT),
  InfoEventSchema.extend(AT),
  WarnEventSchema.extend(AT),
  ErrorEventSchema.extend(AT),
  OutputEventSchema.extend(AT),
  AuditEventSchema.extend(AT),
]);
export type StampedEvent = z.infer<typeof StampedEventSchema>;

export interface EventSink {
  emit(ev: GodEvent): void;
}

/** An in-process bus; listeners get every event with its timestamp. */
export class EventBus implements EventSink {
  private readonly ee = new EventEmitter();
  constructor() {
    this.ee.setMaxListeners(100);
  }
  emit(ev: GodEvent): void {
    this.ee.emit('event', { ...ev, at: new Date().toISOString() });
  }
  on(fn: (ev: StampedEvent) => void): () => void {
    this.ee.on('event', fn);
    return () => this.ee.off('event', fn);
  }
}

/** Run `fn` as a step: a start event, then an end event with ok or the error, and how long it took. */
export async function timedStep<T>(events: EventSink, step: string, fn: () => Promise<T>): Promise<T> {
  const t0 = Date.now();
  events.emit({ type: 'step', step, phase: 'start' });
  try {
    const r = await fn();
    events.emit({ type: 'step', step, phase: 'end', ok: true, ms: Date.now() - t0 });
    return r;
  } catch (err) {
    const error = (err as Error).message;
    events.emit({ type: 'step', step, phase: 'end', ok: false, error, ms: Date.now() - t0 });
    throw err;
  }
}

/** A sink that drops everything (library use, tests that do not look). */
export const nullSink: EventSink = { emit() {} };
