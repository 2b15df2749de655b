// Runs a validated playbook step by step through God's services, reporting on the event bus (the CLI prints
// it, --json makes it NDJSON): the play and each step as `step` events whose `data` says the index, kind,
// status and what changed; the services' own host/process events in between. A failing step stops the play
// unless it says continue_on_error; --dry-run plans every step and changes nothing.
import { z } from 'zod';
import { UserError } from '../../../kernel/errors.ts';
import type { GodConfig } from '../config/schema.ts';
import { type EventSink, PlayStepDataSchema } from '../events.ts';
import type { Provider } from '../providers/types.ts';
import { connectFleetRedis, type FleetRedis, resolveRedisUrl } from '../redis.ts';
import { SshPool } from '../ssh/pool.ts';
import { getStatus } from '../status.ts';
import { type ClientGroups, closeGroups } from './clients.ts';
import type { PlayContext } from './context.ts';
import { markNeeds, type PointMark, takeMark } from './marks.ts';
import { STEP_KINDS, type Playbook, type Step } from './schema.ts';
import { describeStep, isCheck, needsFleet, planStep, runStep } from './steps.ts';

export const StepResultSchema = z.object({
  index: z.number().int(),
  name: z.string(),
  kind: z.enum(STEP_KINDS),
  line: z.number().int().nullable(),
  /** planned: dry run; skipped: an earlier step failed */
  status: z.enum(['ok', 'failed', 'skipped', 'planned']),
  /** whether the step changed the fleet (dry run: would change); null when it did not run */
  changed: z.boolean().nullable(),
  changes: z.array(z.string()),
  detail: z.string().optional(),
  error: z.string().optional(),
  hint: z.string().optional(),
  /** failed, but continue_on_error let the play go on */
  ignored: z.boolean().optional(),
  ms: z.number().int(),
});
export type StepResult = z.infer<typeof StepResultSchema>;

export const PlayResultSchema = z.object({
  play: z.string(),
  file: z.string(),
  dry_run: z.boolean(),
  ok: z.boolean(),
  vars: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])),
  steps: z.array(StepResultSchema),
  /** steps that changed something (dry run: would) */
  changed: z.number().int(),
  failed_step: z.object({ index: z.number().int(), name: z.string(), error: z.string() }).nullable(),
  ms: z.number().int(),
});
export type PlayResult = z.infer<typeof PlayResultSchema>;

/** `data` of a playbook step's `step` events (the NDJSON shape CI reads): events.ts' shape, with its kind one
 * of the step kinds. */
export const PlayStepEventDataSchema = PlayStepDataSchema.extend({ kind: z.enum(STEP_KINDS) });

export interface RunPlaybookOptions {
  provider: Provider;
  config: GodConfig;
  events: EventSink;
  dryRun?: boolean;
  signal?: AbortSignal;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** --redis / GOD_REDIS_URL */
  redisUrl?: string;
}

/** The fleet's Redis, reconnecting when its URL changes (a local fleet stopped and started again). */
function redisSource(options: RunPlaybookOptions) {
  let cur: { url: string; fleetRedis: FleetRedis } | undefined;
  const get = async (): Promise<FleetRedis> => {
    const url = await resolveRedisUrl(options.config, options.provider, options.redisUrl);
    if (cur && cur.url === url) return cur.fleetRedis;
    cur?.fleetRedis.close();
    cur = undefined;
    const fleetRedis = await connectFleetRedis(url, {
      prefix: options.config.redis.prefix,
      tlsCa: options.config.redis.tls_ca,
      name: 'god-play',
    });
    cur = { url: url!, fleetRedis };
    return fleetRedis;
  };
  return {
    get,
    async tryGet() {
      try {
        return await get();
      } catch {
        return undefined;
      }
    },
    close() {
      cur?.fleetRedis.close();
      cur = undefined;
    },
  };
}

const errText = (err: unknown) => (err instanceof Error ? err.message : String(err));

export async function runPlaybook(playbook: Playbook, options: RunPlaybookOptions): Promise<PlayResult> {
  const t0 = Date.now();
  const dryRun = !!options.dryRun;
  const events = options.events;
  const redis = redisSource(options);
  let pool: SshPool | undefined;
  const clients: ClientGroups = new Map();
  const ctx: PlayContext = {
    provider: options.provider,
    config: options.config,
    events,
    dryRun,
    signal: options.signal,
    env: options.env ?? process.env,
    cwd: options.cwd ?? process.cwd(),
    startedAt: t0,
    redis: redis.get,
    tryRedis: redis.tryGet,
    pool: () => {
      pool ??= new SshPool(
        'sshOptions' in options.provider ? (options.provider as { sshOptions(): never }).sshOptions() : {},
      );
      return pool;
    },
    clients,
    steps: playbook.steps,
    marks: { steps: new Map() },
    targeted: new Map(),
  };
  const needs = markNeeds(playbook);
  if (!dryRun && needs.play) ctx.marks.play = await markIfUp(ctx);
  const playStep = dryRun ? `play ${playbook.name} (dry run)` : `play ${playbook.name}`;
  const n = playbook.steps.length;
  events.emit({
    type: 'step',
    step: playStep,
    phase: 'start',
    data: { play: playbook.name, file: playbook.file, steps: n, dry_run: dryRun, vars: playbook.vars },
  });
  const results: StepResult[] = [];
  let failed: PlayResult['failed_step'] = null;
  try {
    for (const step of playbook.steps) {
      if (failed || options.signal?.aborted) {
        if (!failed) failed = { index: step.index, name: step.name, error: 'interrupted' };
        results.push(base(step, 'skipped'));
        continue;
      }
      if (step.providers && !step.providers.includes(options.provider.kind)) {
        results.push({
          ...base(step, 'skipped'),
          changed: false,
          detail: `only with ${step.providers.join(', ')}`,
        });
        events.emit({
          type: 'info',
          message: `[${step.index}/${n}] ${step.name}: skipped (only with ${step.providers.join(', ')}; this fleet is ${options.provider.kind})`,
        });
        continue;
      }
      ctx.current = step.index;
      if (!dryRun && needs.before.has(step.index))
        ctx.marks.steps.set(step.index, { start: await markIfUp(ctx) });
      results.push(await doStep(ctx, step, n, playbook.name));
      if (!dryRun && needs.after.has(step.index)) {
        ctx.marks.steps.set(step.index, { ...ctx.marks.steps.get(step.index), end: await markIfUp(ctx) });
      }
      const result = results[results.length - 1]!;
      if (result.status === 'failed' && !result.ignored)
        failed = { index: step.index, name: step.name, error: result.error ?? '' };
    }
  } finally {
    closeGroups(clients);
    redis.close();
    await pool?.closeAll();
  }
  const res: PlayResult = {
    play: playbook.name,
    file: playbook.file,
    dry_run: dryRun,
    ok: failed === null,
    vars: playbook.vars,
    steps: results,
    changed: results.filter((result) => result.changed).length,
    failed_step: failed,
    ms: Date.now() - t0,
  };
  events.emit({
    type: 'step',
    step: playStep,
    phase: 'end',
    ok: res.ok,
    ms: res.ms,
    ...(failed ? { error: `step ${failed.index} (${failed.name}) failed: ${failed.error}` } : {}),
    data: { play: playbook.name, changed: res.changed, failed_step: failed, dry_run: dryRun },
  });
  return res;
}

/** A mark on the Redis clock, or undefined when the fleet's Redis cannot be reached now. */
async function markIfUp(ctx: PlayContext): Promise<PointMark | undefined> {
  const fleetRedis = await ctx.tryRedis();
  return fleetRedis ? takeMark(fleetRedis).catch(() => undefined) : undefined;
}

/**
 * Refuse a step that needs the fleet when it is not running, saying how to start it, rather than letting its
 * checks fail one by one ("0 up of 0 expected", "no healthy endpoint").
 */
async function requireRunningFleet(ctx: PlayContext, step: Step): Promise<void> {
  const start = {
    code: 'GOD_NOT_RUNNING' as const,
    hint: 'Start the fleet with `god up` (or `god play playbooks/launch.yaml`), then run this playbook again.',
  };
  const what = `step ${step.index} (${step.name}) needs a running fleet`;
  if (ctx.provider.isRunning && !(await ctx.provider.isRunning())) {
    throw new UserError(`${what}, and the ${ctx.provider.kind} fleet is not running`, start);
  }
  let fleetRedis: FleetRedis;
  try {
    fleetRedis = await ctx.redis();
  } catch (err) {
    throw new UserError(`${what}, but its Redis cannot be reached: ${errText(err)}`, {
      ...start,
      hint: `${start.hint} If it runs, check redis.url in the config (or --redis / GOD_REDIS_URL) and the network.`,
    });
  }
  const status = await getStatus({ provider: ctx.provider, redis: fleetRedis });
  if (status.redis.ok && status.summary.expected > 0 && status.summary.up === 0) {
    throw new UserError(`${what}, and none of its ${status.summary.expected} processes beats`, start);
  }
  if (status.summary.expected === 0) {
    throw new UserError(`${what}, and it has no processes`, start);
  }
}

function base(step: Step, status: StepResult['status']): StepResult {
  return {
    index: step.index,
    name: step.name,
    kind: step.kind,
    line: step.line ?? null,
    status,
    changed: null,
    changes: [],
    ms: 0,
  };
}

async function doStep(ctx: PlayContext, step: Step, of: number, play: string): Promise<StepResult> {
  const t0 = Date.now();
  const label = `[${step.index}/${of}] ${step.name}`;
  const data = { play, index: step.index, of, kind: step.kind, name: step.name, dry_run: ctx.dryRun };
  ctx.events.emit({ type: 'step', step: label, phase: 'start', data: { ...data, status: 'running' } });
  const result = base(step, 'ok');
  try {
    if (ctx.dryRun) {
      result.status = 'planned';
      result.changes = await planStep(ctx, step);
      result.changed = result.changes.length > 0;
      const checks = describeStep(step);
      if (checks.length) result.detail = checks.join('; ');
      for (const line of [...result.changes.map((change) => `would ${change}`), ...checks]) {
        ctx.events.emit({ type: 'info', message: `    ${line}` });
      }
      if (!result.changes.length && !checks.length)
        ctx.events.emit({ type: 'info', message: '    nothing to change' });
    } else {
      if (needsFleet(step)) await requireRunningFleet(ctx, step);
      const out = await runStep(ctx, step);
      result.changed = out.changed;
      result.changes = out.changes;
      if (out.detail) result.detail = out.detail;
      if (!out.changed && !isCheck(step)) {
        ctx.events.emit({ type: 'info', message: '    nothing to change' });
      }
    }
  } catch (err) {
    result.status = 'failed';
    result.error = errText(err);
    if (err instanceof UserError && err.hint) result.hint = err.hint;
    if (step.continue_on_error) {
      result.ignored = true;
      ctx.events.emit({
        type: 'warn',
        message: `step ${step.index} (${step.name}) failed; continuing (continue_on_error): ${result.error}`,
      });
    }
  }
  result.ms = Date.now() - t0;
  ctx.events.emit({
    type: 'step',
    step: label,
    phase: 'end',
    ok: result.status !== 'failed',
    ms: result.ms,
    ...(result.error ? { error: result.error } : {}),
    data: { ...data, status: result.status, changed: result.changed, changes: result.changes },
  });
  return result;
}
