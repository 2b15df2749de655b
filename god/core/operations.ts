// up / down / restart as services: converge through the provider, then (optionally) wait for heartbeats.
// The CLI commands, the TUI keys and playbook steps all call these.
import { z } from 'zod';
import { type Role, RoleSchema } from '../../protocol/redis-contract.ts';
import { UserError } from '../../kernel/errors.ts';
import type { GodConfig } from './config/schema.ts';
import { ROLES } from './config/schema.ts';
import { type EventSink, timedStep } from './events.ts';
import {
  describeChange,
  type ExpectedProcess,
  ExpectedProcessSchema,
  type PlannedChange,
  PlannedChangeSchema,
  type PlanOp,
  type Provider,
} from './providers/types.ts';
import { ProviderKindSchema } from '../../kernel/providers.ts';
import type { FleetRedis } from './redis.ts';
import { type ChangeMark, markChange } from './liveness.ts';
import { waitHealthy } from './status.ts';
import { type DrainOptions, drainBeforeDown } from './drain.ts';
import { listEndpoints } from './endpoints.ts';

export const OperationResultSchema = z.object({
  action: z.enum(['up', 'down', 'restart']),
  provider: ProviderKindSchema,
  role: RoleSchema.nullable(),
  /** the count converged to (up), null for all roles at their configured counts */
  count: z.number().int().nullable(),
  ids: z.array(z.string()).nullable(),
  /** what the fleet expects after the operation */
  processes: z.array(ExpectedProcessSchema),
  /** true: every affected process beats; null: not waited for */
  healthy: z.boolean().nullable(),
  ms: z.number().int(),
});
export type OperationResult = z.infer<typeof OperationResultSchema>;

/** `god up|down|restart --dry-run`: what the operation would change, and nothing changed. */
export const PlanResultSchema = z.object({
  action: z.enum(['up', 'down', 'restart']),
  provider: ProviderKindSchema,
  dry_run: z.literal(true),
  role: RoleSchema.nullable(),
  count: z.number().int().nullable(),
  ids: z.array(z.string()).nullable(),
  changes: z.array(PlannedChangeSchema),
});
export type PlanResult = z.infer<typeof PlanResultSchema>;

export interface WaitOptions {
  redis: () => Promise<FleetRedis>;
  timeoutMs: number;
  signal?: AbortSignal;
  /** per-process progress while waiting */
  events?: EventSink;
  /** the fleet's admin token (token-protected /readyz), asked for only when waiting */
  adminToken?: () => Promise<string | undefined>;
}

export function parseRole(v: string | undefined): Role | undefined {
  if (v === undefined) return undefined;
  const r = RoleSchema.safeParse(v);
  if (!r.success) {
    throw new UserError(`"${v}" is not a role`, {
      code: 'GOD_USAGE',
      hint: `Roles are ${ROLES.join(', ')}.`,
    });
  }
  return r.data;
}

/**
 * Wait for the affected processes. `before` (taken before a restart): each must be a new process. Without it
 * (up: Redis may only exist once the fleet is up) the mark is taken now and each must beat after it, so a
 * leftover heartbeat of a dead process never counts.
 */
async function waitFor(
  provider: Provider,
  w: WaitOptions | undefined,
  pick: (p: ExpectedProcess) => boolean,
  before?: ChangeMark,
) {
  const processes = await provider.expected();
  if (!w) return { processes, healthy: null };
  const affected = processes.filter(pick);
  if (affected.length === 0) return { processes, healthy: true };
  const fr = await w.redis();
  await waitHealthy(fr, affected, {
    timeoutMs: w.timeoutMs,
    signal: w.signal,
    since: before ?? (await markChange(fr.redis, fr.keys, affected)),
    mode: before ? 'new' : 'alive',
    events: w.events,
    adminToken: await w.adminToken?.(),
  });
  return { processes, healthy: true };
}

/** The heartbeats before a restart, or undefined when Redis cannot be read now (then: alive after). */
async function markBefore(
  provider: Provider,
  w: WaitOptions | undefined,
  pick: (p: ExpectedProcess) => boolean,
) {
  if (!w) return undefined;
  try {
    const fr = await w.redis();
    return await markChange(fr.redis, fr.keys, (await provider.expected()).filter(pick));
  } catch {
    return undefined;
  }
}

/** What `up` converges: `role` to `count` (default: its configured count), or every role to its configured count. */
function upTargets(o: { config: GodConfig; role?: Role; count?: number }): Array<[Role, number]> {
  return o.role
    ? [[o.role, o.count ?? o.config.roles[o.role].count]]
    : ROLES.map((r) => [r, o.config.roles[r].count]);
}

/** Converge `role` to `count` (default: its configured count), or every role to its configured count. */
export async function upOp(o: {
  provider: Provider;
  config: GodConfig;
  role?: Role;
  count?: number;
  wait?: WaitOptions;
  events: EventSink;
}): Promise<OperationResult> {
  const t0 = Date.now();
  const targets = upTargets(o);
  await timedStep(o.events, 'up', async () => {
    for (const [role, count] of targets) await o.provider.up(role, count);
  });
  const roles = new Set(targets.map(([r]) => r));
  const w = await waitStep(o.events, () => waitFor(o.provider, o.wait, (p) => roles.has(p.role)), !!o.wait);
  return {
    action: 'up',
    provider: o.provider.kind,
    role: o.role ?? null,
    count: o.role ? targets[0]![1] : null,
    ids: null,
    ...w,
    ms: Date.now() - t0,
  };
}

/**
 * Stop a role, ids, `count` of a role, or everything. With `drain` the endpoints among them are drained first
 * (drain.ts) — unless the whole fleet goes down: then no endpoint is left to take clients and none is asked for.
 */
export async function downOp(o: {
  provider: Provider;
  role?: Role;
  ids?: string[];
  /** take this many of `role` away, picked by downPick */
  count?: number;
  drain?: DrainOptions;
  events: EventSink;
}): Promise<OperationResult> {
  const t0 = Date.now();
  let ids = o.ids;
  if (o.count !== undefined) {
    if (!o.role) {
      throw new UserError('-n/--count needs a role', {
        code: 'GOD_USAGE',
        hint: 'e.g. god down endpoint -n 1',
      });
    }
    ids = await downPick(o.provider, o.role, o.count, o.drain);
  }
  const target = targetOf({ role: o.role, ids });
  if (o.count === undefined || ids?.length) {
    if (o.drain && target) {
      const all = await o.provider.expected();
      const picked = all.filter((p) => selects(target, p));
      // a machine that goes takes all its processes: drain every endpoint on it, not only the one named
      const machines = new Set(picked.map((p) => p.host));
      const going = o.provider.machinePerProcess
        ? all.filter((p) => machines.has(p.host) && (!target.role || p.role === target.role))
        : picked;
      await timedStep(o.events, 'drain', () => drainBeforeDown(going, all, o.drain!, o.events));
    }
    await timedStep(o.events, 'down', () => o.provider.down(target));
  }
  return {
    action: 'down',
    provider: o.provider.kind,
    role: o.role ?? null,
    count: o.count ?? null,
    ids: ids?.length ? ids : null,
    processes: await o.provider.expected(),
    healthy: null,
    ms: Date.now() - t0,
  };
}

/** `--id` names a process (`endpoint-i-0abc`) or, on ec2, its instance (`i-0abc`): both select it. */
const selects = (t: { role?: Role; ids?: string[] }, p: ExpectedProcess) =>
  (!t.role || p.role === t.role) &&
  (!t.ids?.length || t.ids.some((id) => id === p.id || `${p.role}-${id}` === p.id));

/**
 * Which `count` processes of `role` a `down ROLE -n N` takes: for endpoints the ones holding the fewest clients
 * (read from the registry when `drain` gives Redis; unknown counts as 0), then, as for the other roles, the
 * newest first: the last listed by the provider (local, ssh: the highest number).
 */
export async function downPick(
  provider: Provider,
  role: Role,
  count: number,
  drain?: DrainOptions,
): Promise<string[]> {
  const listed = (await provider.expected()).filter((p) => p.role === role);
  const clients = new Map<string, number>();
  if (role === 'endpoint' && drain && !drain.force) {
    const fr = await drain.redis().catch(() => undefined);
    const r = fr ? await listEndpoints(fr).catch(() => undefined) : undefined;
    for (const e of r?.endpoints ?? []) clients.set(e.id, e.clients);
  }
  const held = (p: ExpectedProcess) => clients.get(p.id) ?? 0;
  if (provider.machinePerProcess) {
    // `-n` counts machines (ec2 instances): the ones whose processes hold the fewest clients together
    const machines: Array<{ host: string; ids: string[]; held: number; i: number }> = [];
    for (const p of listed) {
      let m = machines.find((x) => x.host === p.host);
      if (!m) machines.push((m = { host: p.host, ids: [], held: 0, i: machines.length }));
      m.ids.push(p.id);
      m.held += held(p);
    }
    machines.sort((a, b) => a.held - b.held || b.i - a.i);
    return machines.slice(0, count).flatMap((m) => m.ids);
  }
  const order = listed.map((p, i) => ({ p, i }));
  order.sort((a, b) => held(a.p) - held(b.p) || b.i - a.i);
  return order.slice(0, count).map((x) => x.p.id);
}

export async function restartOp(o: {
  provider: Provider;
  role?: Role;
  ids?: string[];
  wait?: WaitOptions;
  events: EventSink;
}): Promise<OperationResult> {
  const t0 = Date.now();
  const pick = (p: ExpectedProcess) =>
    (!o.role || p.role === o.role) && (!o.ids?.length || o.ids.includes(p.id));
  const before = await markBefore(o.provider, o.wait, pick);
  await timedStep(o.events, 'restart', () => o.provider.restart(targetOf(o)));
  const w = await waitStep(o.events, () => waitFor(o.provider, o.wait, pick, before), !!o.wait);
  return {
    action: 'restart',
    provider: o.provider.kind,
    role: o.role ?? null,
    count: null,
    ids: o.ids?.length ? o.ids : null,
    ...w,
    ms: Date.now() - t0,
  };
}

/**
 * The changes upOp / downOp / restartOp would make, from the provider's plan; nothing is changed. `up` of every
 * role plans one op per role, as upOp runs them: a change two of them share (the local supervisor they both
 * would start: the same line) is listed once.
 */
export async function planOp(o: {
  provider: Provider;
  config: GodConfig;
  action: 'up' | 'down' | 'restart';
  role?: Role;
  count?: number;
  ids?: string[];
}): Promise<PlanResult> {
  const { provider } = o;
  const ops: PlanOp[] =
    o.action === 'up'
      ? upTargets(o).map(([role, count]) => ({ op: 'up', role, count }))
      : [{ op: o.action, target: targetOf(o) }];
  const seen = new Set<string>();
  const changes: PlannedChange[] = [];
  for (const op of ops) {
    for (const c of await provider.plan(op)) {
      const key = describeChange(c);
      if (seen.has(key)) continue;
      seen.add(key);
      changes.push(c);
    }
  }
  return {
    action: o.action,
    provider: provider.kind,
    dry_run: true,
    role: o.role ?? null,
    count: o.action === 'up' && o.role ? upTargets(o)[0]![1] : null,
    ids: o.ids?.length ? o.ids : null,
    changes,
  };
}

/** a role and/or ids, or everything (undefined) */
export function targetOf(o: { role?: Role; ids?: string[] }): { role?: Role; ids?: string[] } | undefined {
  return o.role || o.ids?.length ? { role: o.role, ids: o.ids } : undefined;
}

function waitStep<T>(events: EventSink, fn: () => Promise<T>, show: boolean): Promise<T> {
  return show ? timedStep(events, 'wait for heartbeats', fn) : fn();
}
