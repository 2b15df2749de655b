// The whole fleet on this machine, in-process: a private redis-server (unless the config names a Redis) and
// every role process supervised. The daemon (`god up`), the demo and playbooks all run one of these.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Role } from '../../../protocol/redis-contract.ts';
import { UserError } from '../../../kernel/errors.ts';
import { redactUrl } from '../../../kernel/redact.ts';
import { durationMs } from '../../../kernel/units.ts';
import { ROLE_OPTION_ENV, roleProcessEnv } from '../config/role-env.ts';
import { type GodConfig, ROLES } from '../config/schema.ts';
import { type EventSink, nullSink } from '../events.ts';
import type { ExpectedProcess, Machine } from '../providers/types.ts';
import { type RestartPolicy, SupervisedProcess } from '../supervisor.ts';
import { freePort, type PrivateRedis, startPrivateRedis } from './redis-server.ts';
import { ensurePrivateDir, type LocalProcess, type LocalState, removeState, writeState } from './state.ts';

export const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export interface LocalFleetOptions {
  config: GodConfig;
  events?: EventSink;
  /** folder relative paths of the config start from (default: the working dir) */
  baseDir?: string;
  /** where state.json, logs/, redis/ and archive/ go */
  stateDir: string;
  /** role counts to start with: 'config' for the config's counts; default none (Redis only) */
  initial?: Partial<Record<Role, number>> | 'config';
  /** run dist/roles/<role>.mjs bundles (default: config local.dist) */
  dist?: boolean;
  /** control socket of the daemon, recorded in the state file */
  socket?: string;
  configFile?: string;
  /** keep state.json current (default true) */
  writeState?: boolean;
}

export type Target = { role?: Role; ids?: string[] };

export interface LocalFleet {
  readonly redisUrl: string;
  readonly prefix: string;
  readonly stateDir: string;
  readonly host: string;
  snapshot(): LocalState;
  expected(): ExpectedProcess[];
  machines(): Machine[];
  /** converge `role` to `count` processes (lowest free numbers are added, highest removed) */
  up(role: Role, count: number): Promise<void>;
  /** every role at the config's count */
  upAll(): Promise<void>;
  /** stop processes: a role, some ids, or every role process (Redis stays until stop()) */
  down(target?: Target): Promise<void>;
  /** restart one at a time so a role keeps serving */
  restart(target?: Target): Promise<void>;
  process(id: string): SupervisedProcess | undefined;
  /** every process, then the private Redis; removes the state file */
  stop(): Promise<void>;
}

interface Slot {
  n: number;
  port?: number;
  proc: SupervisedProcess;
}

/** The program of a role: config local.entry, else the dist bundle (--dist), else bin/<role>.mjs (tsx). */
export function roleProgram(
  role: Role,
  o: { config: GodConfig; baseDir: string; dist: boolean },
): { command: string; args: string[] } {
  const entry = o.config.local.entry[role];
  if (entry) {
    const file = path.resolve(o.baseDir, entry);
    if (!fs.existsSync(file)) {
      throw new UserError(`local.entry.${role} is ${file}, which does not exist`, {
        code: 'GOD_ROLE',
        hint: 'Fix the path in the config (relative paths start at the config file).',
      });
    }
    return file.endsWith('.ts')
      ? { command: process.execPath, args: ['--import', import.meta.resolve('tsx'), file] }
      : { command: process.execPath, args: [file] };
  }
  if (o.dist) {
    const file = path.join(PACKAGE_ROOT, 'dist', 'roles', `${role}.mjs`);
    if (!fs.existsSync(file)) {
      throw new UserError(`the ${role} bundle ${path.relative(process.cwd(), file)} is missing`, {
        code: 'GOD_ROLE',
        hint: 'Run `npm run build` first, or drop --dist / GOD_DIST to run the TypeScript sources.',
      });
    }
    return { command: process.execPath, args: [file] };
  }
  if (!fs.existsSync(path.join(PACKAGE_ROOT, 'roles', role, 'main.ts'))) {
    throw new UserError(
      `the ${role} role is not available in this build (roles/${role}/main.ts is missing)`,
      {
        code: 'GOD_ROLE',
        hint: `Set its count to 0 in the config, or point local.entry.${role} at a program to run instead.`,
      },
    );
  }
  return { command: process.execPath, args: [path.join(PACKAGE_ROOT, 'bin', `${role}.mjs`)] };
}

export async function startLocalFleet(o: LocalFleetOptions): Promise<LocalFleet> {
  const { config, stateDir } = o;
  const events = o.events ?? nullSink;
  const baseDir = o.baseDir ?? process.cwd();
  const dist = o.dist ?? config.local.dist;
  const keepState = o.writeState !== false;
  const host = os.hostname();
  // role logs and the private Redis's files can hold secrets: 0700 folders
  ensurePrivateDir(stateDir);
  const logDir = ensurePrivateDir(path.join(stateDir, 'logs'));
  const startedAt = new Date().toISOString();
  const policy: RestartPolicy = {
    backoffMinMs: durationMs.parse(config.local.restart.backoff_min),
    backoffMaxMs: durationMs.parse(config.local.restart.backoff_max),
    stableMs: durationMs.parse(config.local.restart.stable_after),
    stopTimeoutMs: durationMs.parse(config.local.stop_timeout),
  };

  let redis: PrivateRedis | undefined;
  let redisUrl = config.redis.url;
  if (!redisUrl) {
    events.emit({ type: 'step', step: 'redis', phase: 'start' });
    const t0 = Date.now();
    redis = await startPrivateRedis({ bin: config.local.redis_server, dir: path.join(stateDir, 'redis') });
    redisUrl = redis.url;
    events.emit({ type: 'step', step: 'redis', phase: 'end', ok: true, ms: Date.now() - t0 });
    events.emit({
      type: 'info',
      message: `private redis-server on ${redactUrl(redisUrl)}`,
      data: { pid: redis.pid },
    });
  }
  const url = redisUrl;

  const slots = new Map<Role, Slot[]>(ROLES.map((r) => [r, []]));
  const desired: Record<Role, number> = { feeder: 0, endpoint: 0, keeper: 0 };
  let stopped = false;
  let writeScheduled = false;

  const snapshot = (): LocalState => ({
    version: 1,
    supervisor_pid: process.pid,
    socket: o.socket,
    started_at: startedAt,
    redis_url: url,
    redis_pid: redis?.pid,
    prefix: config.redis.prefix,
    host,
    desired: { ...desired },
    config_file: o.configFile,
    processes: ROLES.flatMap((r) =>
      slots
        .get(r)!
        .map((s): LocalProcess => ({ ...s.proc.info(), port: s.port, log_file: s.proc.spec.logFile })),
    ),
  });
  /** now, not on the next tick: a caller answered after an operation must read the new state */
  const persistNow = () => {
    if (keepState && !stopped) writeState(stateDir, snapshot());
  };
  const persist = () => {
    if (!keepState || stopped || writeScheduled) return;
    writeScheduled = true;
    setImmediate(() => {
      writeScheduled = false;
      if (!stopped) writeState(stateDir, snapshot());
    });
  };

  const idOf = (role: Role, n: number) => `${role}-${n}`;

  async function addSlot(role: Role, n: number): Promise<void> {
    const id = idOf(role, n);
    const program = roleProgram(role, { config, baseDir, dist });
    const extra: Record<string, string> = {};
    let port: number | undefined;
    if (role === 'endpoint') {
      const base = config.roles.endpoint.options.port;
      port = base ? base + n - 1 : await freePort();
      extra[ROLE_OPTION_ENV.endpoint.port!] = String(port);
      // a local fleet serves this machine only, unless the config says otherwise
      if (!config.roles.endpoint.options.host) extra[ROLE_OPTION_ENV.endpoint.host!] = '127.0.0.1';
      if (!config.roles.endpoint.options.public_host)
        extra[ROLE_OPTION_ENV.endpoint.public_host!] = '127.0.0.1';
    }
    if (role === 'feeder' && !config.roles.feeder.options.catalog) {
      // the catalog shipped in data/ (several thousand movies)
      extra[ROLE_OPTION_ENV.feeder.catalog!] = path.join(PACKAGE_ROOT, 'data', 'movies.json');
    }
    if (role === 'keeper' && !config.roles.keeper.options.archive) {
      const dir = path.join(stateDir, 'archive');
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      extra[ROLE_OPTION_ENV.keeper.archive!] = `file://${dir}`;
    }
    // only what this role needs from God's environment (no AWS keys for the endpoint, no SSH agent for any)
    const env = roleProcessEnv(config, role, {
      id,
      index: n - 1,
      redisUrl: url,
      hostName: host,
      baseDir,
      extra,
    });
    const proc = new SupervisedProcess(
      { id, role, ...program, env, inheritEnv: false, cwd: baseDir, logFile: path.join(logDir, `${id}.log`) },
      policy,
      events,
      persist,
    );
    slots.get(role)!.push({ n, port, proc });
    slots.get(role)!.sort((a, b) => a.n - b.n);
    proc.start();
  }

  async function up(role: Role, count: number): Promise<void> {
    if (stopped) throw new UserError('the local fleet is stopped', { hint: 'Start it again with `god up`.' });
    desired[role] = count;
    const list = slots.get(role)!;
    if (list.length < count) {
      // check the program once before spawning anything, so a missing role is one clear error
      roleProgram(role, { config, baseDir, dist });
    }
    while (list.length < count) {
      let n = 1;
      while (list.some((s) => s.n === n)) n++;
      await addSlot(role, n);
    }
    const extra = list.splice(count);
    await Promise.all(extra.map((s) => s.proc.stop()));
    persistNow();
  }

  const matching = (t: Target = {}) =>
    ROLES.flatMap((r) => slots.get(r)!).filter(
      (s) => (!t.role || s.proc.spec.role === t.role) && (!t.ids?.length || t.ids.includes(s.proc.spec.id)),
    );

  function checkIds(t: Target = {}) {
    if (!t.ids?.length) return;
    const known = new Set(matching({}).map((s) => s.proc.spec.id));
    const unknown = t.ids.filter((id) => !known.has(id));
    if (unknown.length) {
      throw new UserError(`no local process named ${unknown.join(', ')}`, {
        code: 'GOD_TARGET',
        hint: `Known processes: ${[...known].join(', ') || 'none'}. \`god status\` lists them.`,
      });
    }
  }

  async function down(t?: Target): Promise<void> {
    checkIds(t);
    if (!t || (!t.role && !t.ids?.length)) {
      // endpoints and feeders first, the keeper last so it archives their final lines
      for (const group of [['endpoint', 'feeder'], ['keeper']] as Role[][]) {
        await Promise.all(group.map((r) => up(r, 0)));
      }
      return;
    }
    if (t.role && !t.ids?.length) return up(t.role, 0);
    const victims = matching(t);
    for (const s of victims) {
      const role = s.proc.spec.role;
      const list = slots.get(role)!;
      list.splice(list.indexOf(s), 1);
      desired[role] = list.length;
    }
    await Promise.all(victims.map((s) => s.proc.stop()));
    persistNow();
  }

  async function restart(t?: Target): Promise<void> {
    checkIds(t);
    for (const s of matching(t)) {
      events.emit({ type: 'host', step: 'restart', host: s.proc.spec.id, phase: 'start' });
      const t0 = Date.now();
      await s.proc.restart();
      events.emit({
        type: 'host',
        step: 'restart',
        host: s.proc.spec.id,
        phase: 'end',
        ok: true,
        ms: Date.now() - t0,
      });
    }
    persistNow();
  }

  let stopping: Promise<void> | undefined;
  const fleet: LocalFleet = {
    redisUrl: url,
    prefix: config.redis.prefix,
    stateDir,
    host,
    snapshot,
    // the supervisor's record rides along (restarts, last exit), as the local provider's state.json gives it
    expected: () =>
      ROLES.flatMap((r) =>
        slots.get(r)!.map((s) => {
          const info = s.proc.info();
          return {
            role: r,
            id: s.proc.spec.id,
            host,
            restarts: info.restarts,
            last_exit: info.last_exit ?? null,
          };
        }),
      ),
    machines: () => [
      {
        provider: 'local',
        id: host,
        name: host,
        address: '127.0.0.1',
        state: stopped ? 'stopped' : 'running',
        roles: ROLES.filter((r) => slots.get(r)!.length > 0),
      },
    ],
    up,
    upAll: async () => {
      for (const r of ROLES) await up(r, config.roles[r].count);
    },
    down,
    restart,
    process: (id) => matching({ ids: [id] })[0]?.proc,
    stop: () =>
      (stopping ??= (async () => {
        events.emit({ type: 'step', step: 'stop', phase: 'start' });
        const t0 = Date.now();
        await down();
        stopped = true;
        await redis?.stop();
        if (keepState) removeState(stateDir);
        events.emit({ type: 'step', step: 'stop', phase: 'end', ok: true, ms: Date.now() - t0 });
      })()),
  };
  if (keepState) writeState(stateDir, snapshot());
  try {
    if (o.initial === 'config') await fleet.upAll();
    else if (o.initial) for (const [r, n] of Object.entries(o.initial)) await up(r as Role, n);
  } catch (err) {
    await fleet.stop();
    throw err;
  }
  return fleet;
}
