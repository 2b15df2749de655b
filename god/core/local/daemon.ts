// The local supervisor as a long-lived process: `god up` starts it in the background (`god supervise`,
// detached, its own process group), `god run` runs the same thing in the foreground. Either serves the
// control socket and keeps state.json current, so later `god status/down/restart` invocations find it.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Role } from '../../../protocol/redis-contract.ts';
import { UserError } from '../../../kernel/errors.ts';
import type { GodConfig } from '../config/schema.ts';
import { type EventBus, type EventSink, nullSink } from '../events.ts';
import { callControl, serveControl } from './control.ts';
import { type LocalFleet, PACKAGE_ROOT, startLocalFleet } from './fleet.ts';
import {
  ensurePrivateDir,
  type LocalState,
  pidAlive,
  readState,
  removeSocket,
  removeState,
  socketPath,
} from './state.ts';
import { sleep } from '../../../kernel/sleep.ts';

export interface SupervisorOptions {
  config: GodConfig;
  baseDir: string;
  stateDir: string;
  configFile?: string;
  dist?: boolean;
  events: EventBus;
  initial?: Partial<Record<Role, number>> | 'config';
}

/** Run the fleet and its control socket until `shutdown`, SIGTERM or SIGINT. Resolves once all is stopped. */
export async function runSupervisor(
  o: SupervisorOptions,
): Promise<{ fleet: LocalFleet; done: Promise<void> }> {
  const releaseLock = takeLock(o.stateDir);
  const prev = readState(o.stateDir);
  if (prev && prev.supervisor_pid !== process.pid && pidAlive(prev.supervisor_pid)) {
    releaseLock();
    throw new UserError(`a local fleet is already running from ${o.stateDir} (pid ${prev.supervisor_pid})`, {
      code: 'GOD_LOCAL_RUNNING',
      hint: 'Use `god status` to see it, or `god down` to stop it first.',
    });
  }
  if (prev) await cleanupStale(prev, o.events);
  const socket = socketPath(o.stateDir);
  const fleet = await startLocalFleet({
    config: o.config,
    events: o.events,
    baseDir: o.baseDir,
    stateDir: o.stateDir,
    dist: o.dist,
    configFile: o.configFile,
    socket,
  });
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  let closing = false;
  const server = await serveControl(fleet, socket, o.events, () => close());
  const onSignal = () => {
    fleet.stop().finally(() => close());
  };
  function close() {
    if (closing) return;
    closing = true;
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    server.close();
    removeSocket(socket);
    releaseLock();
    resolveDone();
  }
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    if (o.initial === 'config') await fleet.upAll();
    else if (o.initial) for (const [r, n] of Object.entries(o.initial)) await fleet.up(r as Role, n);
  } catch (err) {
    await fleet.stop();
    close();
    throw err;
  }
  return { fleet, done };
}

/**
 * One supervisor per state dir: `supervisor.lock` (O_EXCL) holds the owner's pid; a lock whose owner is dead
 * is taken over. Two `god up` started at once get one fleet, not two.
 */
function takeLock(stateDir: string): () => void {
  ensurePrivateDir(stateDir);
  const file = path.join(stateDir, 'supervisor.lock');
  const release = () => {
    try {
      if (fs.readFileSync(file, 'utf8') === String(process.pid)) fs.rmSync(file, { force: true });
    } catch {}
  };
  for (let attempt = 0; attempt < 50; attempt++) {
    try {
      // write the pid to a private file, then link it into place: the lock never exists half-written
      const tmp = `${file}.${process.pid}`;
      fs.writeFileSync(tmp, String(process.pid));
      try {
        fs.linkSync(tmp, file);
        return release;
      } finally {
        fs.rmSync(tmp, { force: true });
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let owner = 0;
    try {
      owner = Number(fs.readFileSync(file, 'utf8').trim());
    } catch {
      continue; // released meanwhile: try again
    }
    if (owner && owner !== process.pid && pidAlive(owner)) {
      throw new UserError(`a local fleet is already running from ${stateDir} (pid ${owner})`, {
        code: 'GOD_LOCAL_RUNNING',
        hint: 'Use `god status` to see it, or `god down` to stop it first.',
      });
    }
    fs.rmSync(file, { force: true }); // its owner died: take over
  }
  throw new UserError(`cannot take the supervisor lock in ${stateDir}`, {
    code: 'GOD_LOCAL',
    hint: `Remove ${file} if no \`god\` supervisor is running.`,
  });
}

/** A supervisor that died (SIGKILL, reboot) may leave processes: kill what the state file names. */
export async function cleanupStale(s: LocalState, events: EventSink = nullSink): Promise<void> {
  const pids = [s.supervisor_pid, s.redis_pid, ...s.processes.map((p) => p.pid)].filter(
    (p): p is number => typeof p === 'number' && p !== process.pid && pidAlive(p),
  );
  if (pids.length) {
    events.emit({
      type: 'warn',
      message: `stopping ${pids.length} leftover process(es) of a dead supervisor`,
    });
    for (const pid of pids) signal(pid, 'SIGTERM');
    const until = Date.now() + 5000;
    while (Date.now() < until && pids.some(pidAlive)) await sleep(50);
    for (const pid of pids) if (pidAlive(pid)) signal(pid, 'SIGKILL');
  }
  if (s.socket) removeSocket(s.socket);
}

function signal(pid: number, sig: NodeJS.Signals) {
  try {
    process.kill(pid, sig);
  } catch {}
}

/** The running supervisor's state, or undefined (stale state files are cleaned up on the way). */
export async function liveSupervisor(stateDir: string, events?: EventSink): Promise<LocalState | undefined> {
  const s = readState(stateDir);
  if (!s) return undefined;
  if (pidAlive(s.supervisor_pid) && s.socket) {
    try {
      await callControl(s.socket, { op: 'ping' });
      return s;
    } catch {
      // alive but not answering: treat as dead below only if the process is gone
      if (pidAlive(s.supervisor_pid)) return s;
    }
  }
  if (pidAlive(s.supervisor_pid) && !s.socket) return s; // an in-process fleet (demo): no socket
  await cleanupStale(s, events);
  removeState(stateDir);
  return undefined;
}

/** Start the background supervisor unless one runs; resolves with its control socket. */
export async function ensureDaemon(o: {
  stateDir: string;
  configFile?: string;
  dist?: boolean;
  /** working dir and environment of the supervisor (default: this process's) */
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  events: EventSink;
  timeoutMs?: number;
}): Promise<string> {
  const live = await liveSupervisor(o.stateDir, o.events);
  if (live?.socket) return live.socket;
  if (live) {
    throw new UserError(
      `the local fleet in ${o.stateDir} is run by another program (pid ${live.supervisor_pid})`,
      {
        code: 'GOD_LOCAL_RUNNING',
        hint: 'Control it from that program (the demo), or stop it there first.',
      },
    );
  }
  ensurePrivateDir(o.stateDir);
  const logFile = path.join(o.stateDir, 'supervisor.log');
  // the supervisor's log can hold the Redis URL: only its owner reads it (also one left by an older God)
  const fd = fs.openSync(logFile, 'a', 0o600);
  fs.fchmodSync(fd, 0o600);
  const args = [path.join(PACKAGE_ROOT, 'bin', 'god.mjs'), 'supervise', '--state-dir', o.stateDir];
  if (o.configFile) args.push('--config', o.configFile);
  if (o.dist) args.push('--dist');
  o.events.emit({ type: 'step', step: 'supervisor', phase: 'start' });
  const t0 = Date.now();
  const child = spawn(process.execPath, args, {
    detached: true,
    stdio: ['ignore', fd, fd],
    cwd: o.cwd ?? process.cwd(),
    env: { ...(o.env ?? process.env), GOD_JSON: '1', FORCE_COLOR: '0' },
  });
  fs.closeSync(fd);
  let exited: number | null | undefined;
  child.once('exit', (code) => (exited = code));
  child.unref();
  const until = Date.now() + (o.timeoutMs ?? 60_000);
  const lockOwner = () => {
    try {
      return Number(fs.readFileSync(path.join(o.stateDir, 'supervisor.lock'), 'utf8'));
    } catch {
      return 0;
    }
  };
  while (Date.now() < until) {
    // ours exited: go on waiting only if another supervisor (a concurrent `god up`) holds the lock
    if (exited !== undefined && !(lockOwner() !== child.pid && pidAlive(lockOwner()))) break;
    const s = readState(o.stateDir);
    // ours, or another `god up` started at the same moment won the lock: either serves
    if (s?.socket && pidAlive(s.supervisor_pid)) {
      try {
        await callControl(s.socket, { op: 'ping' });
        o.events.emit({ type: 'step', step: 'supervisor', phase: 'end', ok: true, ms: Date.now() - t0 });
        o.events.emit({
          type: 'info',
          message: `local supervisor running (pid ${s.supervisor_pid})`,
          data: { pid: s.supervisor_pid },
        });
        return s.socket;
      } catch {}
    }
    await sleep(100);
  }
  if (exited === undefined && child.pid) signal(child.pid, 'SIGKILL');
  const tail = fs.readFileSync(logFile, 'utf8').trim().split('\n').slice(-5).join('\n    ');
  o.events.emit({ type: 'step', step: 'supervisor', phase: 'end', ok: false, ms: Date.now() - t0 });
  throw new UserError(
    `the local supervisor ${exited !== undefined ? `exited (code ${exited})` : 'did not answer in time'}; its log says:\n    ${tail}`,
    { code: 'GOD_LOCAL', hint: `See ${logFile} for the whole log.` },
  );
}
