// The local provider: the fleet on this machine, run by a background supervisor (see god/core/local/daemon.ts)
// that this provider starts and talks to; or, in-process, a LocalFleet wrapped as a Provider.
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Role } from '../../../protocol/redis-contract.ts';
import { callControl } from '../local/control.ts';
import { cleanupStale, ensureDaemon, liveSupervisor } from '../local/daemon.ts';
import { type LocalFleet, roleProgram, type Target } from '../local/fleet.ts';
import { localErrors, planLocal } from '../local/plan.ts';
import { type GodConfig, ROLES } from '../config/schema.ts';
import { type LocalState, pidAlive, readState, removeState, resolveStateDir } from '../local/state.ts';
import type {
  ExpectedProcess,
  Machine,
  PlannedChange,
  PlanOp,
  Provider,
  ProviderContext,
  ProviderFactory,
} from './types.ts';
import { sleep } from '../../../kernel/sleep.ts';

function machineOf(s: LocalState | undefined): Machine {
  const host = s?.host ?? os.hostname();
  return {
    provider: 'local',
    id: host,
    name: host,
    address: '127.0.0.1',
    state: s ? 'running' : 'stopped',
    roles: s ? ([...new Set(s.processes.map((p) => p.role))] as Role[]) : [],
  };
}

export class LocalProvider implements Provider {
  readonly kind = 'local' as const;
  readonly stateDir: string;

  constructor(private readonly ctx: ProviderContext) {
    this.stateDir = resolveStateDir({
      flag: ctx.local?.stateDir,
      configured: ctx.config.local.state_dir,
      baseDir: ctx.baseDir,
      cwd: ctx.local?.cwd,
    });
  }

  /** The running supervisor's state, or undefined. */
  state(): Promise<LocalState | undefined> {
    return liveSupervisor(this.stateDir, this.ctx.events);
  }

  async machines(): Promise<Machine[]> {
    return [machineOf(await this.state())];
  }

  async expected(): Promise<ExpectedProcess[]> {
    const s = await this.state();
    // the supervisor's record rides along: `god status` shows restarts and the last exit reason from it
    return s
      ? s.processes.map((p) => ({
          role: p.role,
          id: p.id,
          host: s.host,
          restarts: p.restarts,
          last_exit: p.last_exit ?? null,
        }))
      : [];
  }

  async redisUrl(): Promise<string | undefined> {
    return (await this.state())?.redis_url ?? this.ctx.config.redis.url;
  }

  private get dist(): boolean {
    return !!this.ctx.local?.dist || this.ctx.config.local.dist;
  }

  private async socket(): Promise<string> {
    return ensureDaemon({
      stateDir: this.stateDir,
      configFile: this.ctx.configFile,
      dist: this.dist,
      cwd: this.ctx.local?.cwd,
      env: this.ctx.env,
      events: this.ctx.events,
    });
  }

  async up(role: Role, count: number): Promise<void> {
    // a role that cannot start is an error before any supervisor or Redis is started for it
    if (count > 0) roleProgram(role, { config: this.ctx.config, baseDir: this.ctx.baseDir, dist: this.dist });
    await callControl(await this.socket(), { op: 'up', role, count }, this.ctx.events);
  }

  /** Every role at its configured count. */
  async upAll(): Promise<void> {
    for (const r of ROLES) {
      if (this.ctx.config.roles[r].count > 0) {
        roleProgram(r, { config: this.ctx.config, baseDir: this.ctx.baseDir, dist: this.dist });
      }
    }
    await callControl(await this.socket(), { op: 'up' }, this.ctx.events);
  }

  async down(target?: Target): Promise<void> {
    const s = await this.state();
    if (!s) {
      if (target?.ids?.length) throw localErrors.notRunning('Nothing to stop. `god up` starts it.');
      return; // already down: idempotent
    }
    if (!s.socket) throw localErrors.inProcess(this.stateDir, s.supervisor_pid);
    if (target && (target.role || target.ids?.length)) {
      await callControl(s.socket, { op: 'down', role: target.role, ids: target.ids }, this.ctx.events);
      return;
    }
    try {
      await callControl(s.socket, { op: 'shutdown' }, this.ctx.events);
    } catch (err) {
      this.ctx.events.emit({
        type: 'warn',
        message: `supervisor did not stop cleanly: ${(err as Error).message}`,
      });
    }
    // wait for the daemon to exit; kill what is left if it does not
    const until = Date.now() + 30_000;
    while (Date.now() < until && pidAlive(s.supervisor_pid)) await sleep(50);
    const left = readState(this.stateDir) ?? s;
    if (pidAlive(s.supervisor_pid) || left.processes.some((p) => pidAlive(p.pid))) {
      await cleanupStale(left, this.ctx.events);
    }
    removeState(this.stateDir);
  }

  async restart(target?: Target): Promise<void> {
    const s = await this.state();
    if (!s?.socket) throw localErrors.notRunning('Start it with `god up`; there is nothing to restart.');
    await callControl(s.socket, { op: 'restart', role: target?.role, ids: target?.ids }, this.ctx.events);
  }

  /** Read state.json as it is (no ping, no clean-up of a dead supervisor's files: those are the op's changes). */
  async plan(op: PlanOp): Promise<PlannedChange[]> {
    return planLocal(op, {
      config: this.ctx.config,
      baseDir: this.ctx.baseDir,
      dist: this.dist,
      stateDir: this.stateDir,
      state: readState(this.stateDir),
      runner: 'daemon',
    });
  }

  async close(): Promise<void> {}

  // ---- capabilities (see Provider) ----
  readonly ownServices = LOCAL_SERVICES;
  readonly cheapListing = true;
  async isRunning(): Promise<boolean> {
    return (await this.state()) !== undefined;
  }
  /** the keeper's archive the supervisor sets when the config names none (god/core/local/fleet.ts) */
  defaultArchive(): string {
    return pathToFileURL(path.join(this.stateDir, 'archive')).href;
  }
}

/** What a local fleet runs besides its role processes. */
const LOCAL_SERVICES = { start: 'start the local supervisor and its private redis-server' };

export const createProvider: ProviderFactory = (ctx) => new LocalProvider(ctx);

/**
 * A LocalFleet run in this process (demo, playbooks) seen through the Provider interface, with the config it
 * was started with (and its baseDir, dist): its plans take ports and role programs from there.
 */
export function fleetProvider(
  fleet: LocalFleet,
  planning: { config: GodConfig; baseDir?: string; dist?: boolean },
): Provider {
  return {
    kind: 'local',
    machines: async () => fleet.machines(),
    expected: async () => fleet.expected(),
    up: (role, count) => fleet.up(role, count),
    down: (t) => fleet.down(t),
    restart: (t) => fleet.restart(t),
    redisUrl: async () => fleet.redisUrl,
    plan: async (op: PlanOp) =>
      planLocal(op, {
        config: planning.config,
        baseDir: planning.baseDir ?? process.cwd(),
        dist: planning.dist ?? planning.config.local.dist,
        stateDir: fleet.stateDir,
        state: fleet.snapshot(),
        runner: 'in-process',
      }),
    close: async () => {},
    // capabilities (see Provider)
    ownServices: LOCAL_SERVICES,
    cheapListing: true,
    isRunning: async () => fleet.machines().some((m) => m.state === 'running'),
  };
}
