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
function redisSource(o: RunPlaybookOptions) {
  let cur: { url: string; fr: FleetRedis } | undefined;
  const get = async (): Promise<FleetRedis> => {
    const url = await resolveRedisUrl(o.config, o.provider, o.redisUrl);
    if (cur && cur.url === url) return cur.fr;
    cur?.fr.close();
    cur = undefined;
    const fr = await connectFleetRedis(url, {
      prefix: o.config.redis.prefix,
      tlsCa: o.config.redis.tls_ca,
      name: 'god-play',
    });
    cur = { url: url!, fr };
    return fr;
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
      cur?.fr.close();
      cur = undefined;
    },
  };
}

const errText = (err: unknown) => (err instanceof Error ? err.message : String(err));

export async function runPlaybook(pb: Playbook, o: RunPlaybookOptions): Promise<PlayResult> {
  const t0 = Date.now();
  const dryRun = !!o.dryRun;
  const ev = o.events;
  const redis = redisSource(o);
  let pool: SshPool | undefined;
  const clients: ClientGroups = new Map();
  const pc: PlayContext = {
    provider: o.provider,
    config: o.config,
    events: ev,
    dryRun,
    signal: o.signal,
    env: o.env ?? process.env,
    cwd: o.cwd ?? process.cwd(),
    startedAt: t0,
    redis: redis.get,
    tryRedis: redis.tryGet,
    pool: () => {
      pool ??= new SshPool(
        'sshOptions' in o.provider ? (o.provider as { sshOptions(): never }).sshOptions() : {},
      );
      return pool;
    },
    clients,
    steps: pb.steps,
    marks: { steps: new Map() },
    targeted: new Map(),
  };
  const needs = markNeeds(pb);
  if (!dryRun && needs.play) pc.marks.play = await markIfUp(pc);
  const playStep = dryRun ? `play ${pb.name} (dry run)` : `play ${pb.name}`;
  const n = pb.steps.length;
  ev.emit({
    type: 'step',
    step: playStep,
    phase: 'start',
    data: { play: pb.name, file: pb.file, steps: n, dry_run: dryRun, vars: pb.vars },
  });
  const results: StepResult[] = [];
  let failed: PlayResult['failed_step'] = null;
  try {
    for (const s of pb.steps) {
      if (failed || o.signal?.aborted) {
        if (!failed) failed = { index: s.index, name: s.name, error: 'interrupted' };
        results.push(base(s, 'skipped'));
        continue;
      }
      if (s.providers && !s.providers.includes(o.provider.kind)) {
        results.push({
          ...base(s, 'skipped'),
          changed: false,
          detail: `only with ${s.providers.join(', ')}`,
        });
        ev.emit({
          type: 'info',
          message: `[${s.index}/${n}] ${s.name}: skipped (only with ${s.providers.join(', ')}; this fleet is ${o.provider.kind})`,
        });
        continue;
      }
      pc.current = s.index;
      if (!dryRun && needs.before.has(s.index)) pc.marks.steps.set(s.index, { start: await markIfUp(pc) });
      results.push(await doStep(pc, s, n, pb.name));
      if (!dryRun && needs.after.has(s.index)) {
        pc.marks.steps.set(s.index, { ...pc.marks.steps.get(s.index), end: await markIfUp(pc) });
      }
      const r = results[results.length - 1]!;
      if (r.status === 'failed' && !r.ignored)
        failed = { index: s.index, name: s.name, error: r.error ?? '' };
    }
  } finally {
    closeGroups(clients);
    redis.close();
    await pool?.closeAll();
  }
  const res: PlayResult = {
    play: pb.name,
    file: pb.file,
    dry_run: dryRun,
    ok: failed === null,
    vars: pb.vars,
    steps: results,
    changed: results.filter((r) => r.changed).length,
    failed_step: failed,
    ms: Date.now() - t0,
  };
  ev.emit({
    type: 'step',
    step: playStep,
    phase: 'end',
    ok: res.ok,
    ms: res.ms,
    ...(failed ? { error: `step ${failed.index} (${failed.name}) failed: ${failed.error}` } : {}),
    data: { play: pb.name, changed: res.changed, failed_step: failed, dry_run: dryRun },
  });
  return res;
}

/** A mark on the Redis clock, or undefined when the fleet's Redis cannot be reached now. */
async function markIfUp(pc: PlayContext): Promise<PointMark | undefined> {
  const fr = await pc.tryRedis();
  return fr ? takeMark(fr).catch(() => undefined) : undefined;
}

/**
 * Refuse a step that needs the fleet when it is not running, saying how to start it, rather than letting its
 * checks fail one by one ("0 up of 0 expected", "no healthy endpoint").
 */
async function requireRunningFleet(pc: PlayContext, s: Step): Promise<void> {
  const start = {
    code: 'GOD_NOT_RUNNING' as const,
    hint: 'Start the fleet with `god up` (or `god play playbooks/launch.yaml`), then run this playbook again.',
  };
  const what = `step ${s.index} (${s.name}) needs a running fleet`;
  if (pc.provider.isRunning && !(await pc.provider.isRunning())) {
    throw new UserError(`${what}, and the ${pc.provider.kind} fleet is not running`, start);
  }
  let fr: FleetRedis;
  try {
    fr = await pc.redis();
  } catch (err) {
    throw new UserError(`${what}, but its Redis cannot be reached: ${errText(err)}`, {
      ...start,
      hint: `${start.hint} If it runs, check redis.url in the config (or --redis / GOD_REDIS_URL) and the network.`,
    });
  }
  const st = await getStatus({ provider: pc.provider, redis: fr });
  if (st.redis.ok && st.summary.expected > 0 && st.summary.up === 0) {
    throw new UserError(`${what}, and none of its ${st.summary.expected} processes beats`, start);
  }
  if (st.summary.expected === 0) {
    throw new UserError(`${what}, and it has no processes`, start);
  }
}

function base(s: Step, status: StepResult['status']): StepResult {
  return {
    index: s.index,
    name: s.name,
    kind: s.kind,
    line: s.line ?? null,
    status,
    changed: null,
    changes: [],
    ms: 0,
  };
}

async function doStep(pc: PlayContext, s: Step, of: number, play: string): Promise<StepResult> {
  const t0 = Date.now();
  const label = `[${s.index}/${of}] ${s.name}`;
  const data = { play, index: s.index, of, kind: s.kind, name: s.name, dry_run: pc.dryRun };
  pc.events.emit({ type: 'step', step: label, phase: 'start', data: { ...data, status: 'running' } });
  const r = base(s, 'ok');
  try {
    if (pc.dryRun) {
      r.status = 'planned';
      r.changes = await planStep(pc, s);
      r.changed = r.changes.length > 0;
      const checks = describeStep(s);
      if (checks.length) r.detail = checks.join('; ');
      for (const c of [...r.changes.map((c) => `would ${c}`), ...checks]) {
        pc.events.emit({ type: 'info', message: `    ${c}` });
      }
      if (!r.changes.length && !checks.length)
        pc.events.emit({ type: 'info', message: '    nothing to change' });
    } else {
      if (needsFleet(s)) await requireRunningFleet(pc, s);
      const out = await runStep(pc, s);
      r.changed = out.changed;
      r.changes = out.changes;
      if (out.detail) r.detail = out.detail;
      if (!out.changed && !isCheck(s)) {
        pc.events.emit({ type: 'info', message: '    nothing to change' });
      }
    }
  } catch (err) {
    r.status = 'failed';
    r.error = errText(err);
    if (err instanceof UserError && err.hint) r.hint = err.hint;
    if (s.continue_on_error) {
      r.ignored = true;
      pc.events.emit({
        type: 'warn',
        message: `step ${s.index} (${s.name}) failed; continuing (continue_on_error): ${r.error}`,
      });
    }
  }
  r.ms = Date.now() - t0;
  pc.events.emit({
    type: 'step',
    step: label,
    phase: 'end',
    ok: r.status !== 'failed',
    ms: r.ms,
    ...(r.error ? { error: r.error } : {}),
    data: { ...data, status: r.status, changed: r.changed, changes: r.changes },
  });
  return r;
}
