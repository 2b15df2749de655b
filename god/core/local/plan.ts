// What an up/down/restart/deploy would change in a local fleet, worked out from its state (state.json, or an
// in-process fleet's snapshot) and the config, without touching either: LocalProvider.plan and
// fleetProvider(...).plan. It follows fleet.ts and providers/local.ts step by step: the same numbering, the
// same order, the same errors before anything changes.
import type { Role } from '../../../protocol/redis-contract.ts';
import { UserError } from '../../../kernel/errors.ts';
import type { GodConfig } from '../config/schema.ts';
import type { PlannedChange, PlanOp, Target } from '../providers/types.ts';
import { roleProgram } from './fleet.ts';
import { type LocalProcess, type LocalState, pidAlive } from './state.ts';

export interface LocalPlanInput {
  config: GodConfig;
  baseDir: string;
  dist: boolean;
  stateDir: string;
  /** state.json as it is now (undefined: none), or the in-process fleet's snapshot */
  state: LocalState | undefined;
  /**
   * 'daemon': God drives a background supervisor (LocalProvider), started by `up` when none runs and shut down
   * with the private Redis by a `down` of everything. 'in-process': a LocalFleet this program runs (the demo):
   * it is up, and `down` stops role processes only.
   */
  runner: 'daemon' | 'in-process';
}

/** The errors of providers/local.ts when no usable supervisor runs (one text for the op and its plan). */
export const localErrors = {
  notRunning: (hint: string) =>
    new UserError('the local fleet is not running', { code: 'GOD_LOCAL_DOWN', hint }),
  inProcess: (stateDir: string, pid: number) =>
    new UserError(`the local fleet in ${stateDir} is run in-process by pid ${pid}`, {
      code: 'GOD_LOCAL_RUNNING',
      hint: 'Stop it from that program (the demo: press q).',
    }),
};

export function planLocal(op: PlanOp, f: LocalPlanInput): PlannedChange[] {
  if (f.runner === 'in-process') return planOnFleet(op, f, f.state?.processes ?? []);
  const s = f.state;
  // a supervisor that died leaves processes: every command kills them first (daemon.ts cleanupStale)
  if (s && !pidAlive(s.supervisor_pid)) return [...leftovers(s), ...planNoSupervisor(op, f)];
  if (!s) return planNoSupervisor(op, f);
  if (!s.socket) {
    // a fleet another program runs in-process (the demo): God cannot drive it from here
    if (op.op === 'up') {
      throw new UserError(
        `the local fleet in ${f.stateDir} is run by another program (pid ${s.supervisor_pid})`,
        {
          code: 'GOD_LOCAL_RUNNING',
          hint: 'Control it from that program (the demo), or stop it there first.',
        },
      );
    }
    if (op.op === 'down') throw localErrors.inProcess(f.stateDir, s.supervisor_pid);
    throw localErrors.notRunning('Start it with `god up`; there is nothing to restart.');
  }
  if (op.op === 'up') checkProgram(op.role, op.count, f);
  if (op.op === 'down' && !isPart(op.target)) {
    return [
      ...planOnFleet(op, f, s.processes),
      ...(s.redis_pid ? [change('stop', 'redis', 'private redis-server', `pid ${s.redis_pid}`)] : []),
      change('stop', 'supervisor', f.stateDir, `pid ${s.supervisor_pid}`),
    ];
  }
  return planOnFleet(op, f, s.processes);
}

/** No supervisor runs: `up` starts one (and its private Redis), `down` has nothing to do, the rest fail. */
function planNoSupervisor(op: PlanOp, f: LocalPlanInput): PlannedChange[] {
  switch (op.op) {
    case 'up':
      checkProgram(op.role, op.count, f);
      return [
        change('start', 'supervisor', f.stateDir, 'in the background (`god supervise`)'),
        ...(f.config.redis.url
          ? []
          : [
              change(
                'start',
                'redis',
                'private redis-server',
                `${f.config.local.redis_server}, files in the state dir`,
              ),
            ]),
        ...planOnFleet(op, f, []),
      ];
    case 'down':
      if (op.target?.ids?.length) throw localErrors.notRunning('Nothing to stop. `god up` starts it.');
      return [];
    default:
      throw localErrors.notRunning('Start it with `god up`; there is nothing to restart.');
  }
}

/** What the LocalFleet itself does for `op` (fleet.ts up/down/restart), given its processes now. */
function planOnFleet(op: PlanOp, f: LocalPlanInput, procs: LocalProcess[]): PlannedChange[] {
  switch (op.op) {
    case 'up': {
      const mine = procs.filter((p) => p.role === op.role).sort((a, b) => numberOf(a.id) - numberOf(b.id));
      // in-process, fleet.up checks the program only when it adds; LocalProvider.up checks it first (above)
      if (f.runner === 'in-process' && mine.length < op.count) checkProgram(op.role, op.count, f);
      const used = new Set(mine.map((p) => numberOf(p.id)));
      const out: PlannedChange[] = [];
      // the lowest free numbers are added, the highest removed
      for (let have = mine.length, n = 1; have < op.count; n++) {
        if (used.has(n)) continue;
        out.push(change('start', 'process', `${op.role}-${n}`, startDetail(op.role, n, f.config)));
        have++;
      }
      for (const p of mine.slice(op.count)) out.push(stopChange(p));
      return out;
    }
    case 'down': {
      checkIds(procs, op.target);
      if (!isPart(op.target)) {
        // endpoints and feeders first, the keeper last so it archives their final lines
        const order: Role[] = ['endpoint', 'feeder', 'keeper'];
        return order.flatMap((r) => procs.filter((p) => p.role === r)).map(stopChange);
      }
      return procs.filter((p) => selects(p, op.target)).map(stopChange);
    }
    case 'restart':
    case 'deploy':
      // a local fleet runs the sources (or dist/) on this machine: a deploy is a restart that picks them up
      checkIds(procs, op.target);
      return procs
        .filter((p) => selects(p, op.target))
        .map((p) =>
          change(
            'restart',
            'process',
            p.id,
            [p.pid ? `pid ${p.pid}` : p.state, op.op === 'deploy' ? 'runs the code on disk now' : '']
              .filter(Boolean)
              .join(', '),
          ),
        );
  }
}

function leftovers(s: LocalState): PlannedChange[] {
  const alive = (pid: number | undefined) => !!pid && pid !== process.pid && pidAlive(pid);
  return [
    ...s.processes
      .filter((p) => alive(p.pid))
      .map((p) => change('stop', 'process', p.id, `pid ${p.pid}, left by a dead supervisor`)),
    ...(alive(s.redis_pid)
      ? [change('stop', 'redis', 'private redis-server', `pid ${s.redis_pid}, left by a dead supervisor`)]
      : []),
  ];
}

/** A role that cannot start is an error before anything starts (LocalProvider.up → roleProgram). */
function checkProgram(role: Role, count: number, f: LocalPlanInput): void {
  if (count > 0) roleProgram(role, { config: f.config, baseDir: f.baseDir, dist: f.dist });
}

function checkIds(procs: LocalProcess[], t: Target | undefined): void {
  if (!t?.ids?.length) return;
  const known = new Set(procs.map((p) => p.id));
  const unknown = t.ids.filter((id) => !known.has(id));
  if (unknown.length) {
    throw new UserError(`no local process named ${unknown.join(', ')}`, {
      code: 'GOD_TARGET',
      hint: `Known processes: ${[...known].join(', ') || 'none'}. \`god status\` lists them.`,
    });
  }
}

function startDetail(role: Role, n: number, config: GodConfig): string | undefined {
  if (role !== 'endpoint') return undefined;
  const base = config.roles.endpoint.options.port;
  return base ? `port ${base + n - 1}` : 'a free port';
}

const stopChange = (p: LocalProcess) => change('stop', 'process', p.id, p.pid ? `pid ${p.pid}` : p.state);

/** a role and/or ids: part of the fleet; else all of it */
const isPart = (t: Target | undefined) => !!(t?.role || t?.ids?.length);

const selects = (p: LocalProcess, t: Target | undefined) =>
  (!t?.role || p.role === t.role) && (!t?.ids?.length || t.ids.includes(p.id));

/** `endpoint-3` → 3 (fleet.ts names processes `<role>-<n>`) */
const numberOf = (id: string) => Number(/-(\d+)$/.exec(id)?.[1] ?? 0);

function change(
  action: PlannedChange['action'],
  resource: PlannedChange['resource'],
  subject: string,
  detail?: string,
): PlannedChange {
  return detail ? { action, resource, subject, detail } : { action, resource, subject };
}
