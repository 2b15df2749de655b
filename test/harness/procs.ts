import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sleep } from '../../kernel/sleep.ts';

/**
 * Tracked child processes, temp dirs and cleanup callbacks.
 *
 * Every process started through `spawnTracked` runs detached in its own process group and is
 * killed as a group (SIGTERM, then SIGKILL after 3 s) by `killAllTracked()`. A `process.on('exit')`
 * hook SIGKILLs whatever is left and removes the temp dirs, so a crashing test file leaves nothing.
 * Where that hook cannot run (the owner is SIGKILLed, or dies under tsx's wrapper), a watchdog
 * process (watchdog.mjs) that holds the other end of a pipe from this process notices the pipe close
 * and does the same: every process the harness starts ends when its owner ends.
 */

export type TrackedSpawnOptions = SpawnOptions & { name?: string };

interface Info {
  name: string;
  pid: number;
  lines: string[];
  events: EventEmitter;
  exited: boolean;
  exitCode: number | null;
  exitSignal: NodeJS.Signals | null;
  spawnError?: Error;
  exitPromise: Promise<void>;
}

const MAX_LINES = 1000;
const MAX_LINE_CHARS = 4000;
const KILL_GRACE_MS = 3000;
const verbose = process.env.FG_HARNESS_VERBOSE === '1';

const infos = new WeakMap<ChildProcess, Info>();
/** Live (and recently exited, not yet swept) tracked process groups, by leader pid. */
const tracked = new Map<number, { child: ChildProcess; info: Info }>();
const tempDirs = new Set<string>();
const cleanups: Array<{ name: string; fn: () => unknown }> = [];
let exitHookInstalled = false;

export { sleep };

let watchdog: ChildProcess | undefined;

/** Tell the watchdog (started on first use) about a group or dir, or that one was cleaned up. */
function toWatchdog(line: string): void {
  if (!watchdog) {
    try {
      watchdog = spawn(process.execPath, [path.join(import.meta.dirname, 'watchdog.mjs')], {
        stdio: ['pipe', 'ignore', 'ignore'],
        detached: true, // not in our process group: a Ctrl-C to us must not stop it first
        cwd: '/',
        env: { PATH: process.env.PATH ?? '' },
      });
      watchdog.on('error', () => {});
      watchdog.stdin?.on('error', () => {});
      // it must not keep this process alive, and it ends on its own once our end of the pipe closes
      watchdog.unref();
      (watchdog.stdin as unknown as { unref?: () => void } | null)?.unref?.();
    } catch {
      return; // best effort: the exit hook still runs in the usual cases
    }
  }
  watchdog.stdin?.write(`${line}\n`);
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A signal would end the process without 'exit' (benches stopped with Ctrl-C or `timeout`): exit instead, so
  // the hook below still kills what we started. Only where nobody else handles the signal.
  for (const [sig, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ] as const) {
    if (process.listenerCount(sig) === 0) process.once(sig, () => process.exit(code));
  }
  process.on('exit', () => {
    for (const pid of tracked.keys()) {
      for (const d of descendantsOf(pid)) {
        try {
          process.kill(d, 'SIGKILL');
        } catch {
          // gone
        }
      }
      signalGroup(pid, 'SIGKILL');
    }
    for (const dir of tempDirs) {
      try {
        fs.rmSync(dir, { recursive: true, force: true });
      } catch {
        // best effort on exit
      }
    }
  });
}

function signalGroup(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    try {
      process.kill(pid, signal);
      return true;
    } catch {
      return false;
    }
  }
}

function attachLines(stream: NodeJS.ReadableStream | null | undefined, info: Info, label: string): void {
  if (!stream) return;
  let buf = '';
  stream.setEncoding?.('utf8');
  const push = (line: string) => {
    if (line.length > MAX_LINE_CHARS) line = line.slice(0, MAX_LINE_CHARS) + '…';
    info.lines.push(line);
    if (info.lines.length > MAX_LINES) info.lines.splice(0, info.lines.length - MAX_LINES);
    if (verbose) process.stderr.write(`[${info.name}:${label}] ${line}\n`);
    info.events.emit('line', line);
  };
  stream.on('data', (chunk: string | Buffer) => {
    buf += chunk.toString();
    let i = buf.indexOf('\n');
    while (i >= 0) {
      push(buf.slice(0, i).replace(/\r$/, ''));
      buf = buf.slice(i + 1);
      i = buf.indexOf('\n');
    }
    if (buf.length > MAX_LINE_CHARS * 4) {
      push(buf);
      buf = '';
    }
  });
  stream.on('end', () => {
    if (buf) push(buf);
    buf = '';
  });
  stream.on('error', () => {});
}

/**
 * Spawn a child that the harness will kill for you. It runs detached (own process group) so that
 * `killTracked`/`killAllTracked` can kill it and everything it forked. stdout/stderr are piped by
 * default and always drained; their lines feed `waitForLine` and `recentOutput`.
 */
export function spawnTracked(cmd: string, args: string[], opts: TrackedSpawnOptions = {}): ChildProcess {
  const { name = path.basename(cmd), ...rest } = opts;
  installExitHook();
  // Mark the child (and what it forks) as belonging to this test run, so the global teardown can
  // find stragglers even if this worker dies before killing them.
  const env = { ...(rest.env ?? process.env) };
  const runDir = process.env.FG_HARNESS_RUN_DIR;
  if (runDir && env.FG_HARNESS_OWNER === undefined) env.FG_HARNESS_OWNER = runDir;
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...rest, env, detached: true });
  let resolveExit!: () => void;
  const info: Info = {
    name,
    pid: child.pid ?? -1,
    lines: [],
    events: new EventEmitter(),
    exited: false,
    exitCode: null,
    exitSignal: null,
    exitPromise: new Promise<void>((r) => (resolveExit = r)),
  };
  info.events.setMaxListeners(0);
  infos.set(child, info);
  attachLines(child.stdout, info, 'out');
  attachLines(child.stderr, info, 'err');
  child.on('error', (err) => {
    // Without a listener a spawn failure (ENOENT) would crash the test process.
    info.spawnError = err;
    if (child.pid === undefined) {
      info.exited = true;
      info.events.emit('exit');
      resolveExit();
    }
  });
  child.once('exit', (code, signal) => {
    info.exited = true;
    info.exitCode = code;
    info.exitSignal = signal;
    info.events.emit('exit');
    resolveExit();
  });
  if (child.pid !== undefined) {
    tracked.set(child.pid, { child, info });
    toWatchdog(`pid ${child.pid}`);
  }
  return child;
}

/** Pids of tracked process-group leaders that are still running. */
export function trackedPids(): number[] {
  return [...tracked.values()].filter((t) => !t.info.exited).map((t) => t.info.pid);
}

/** The last lines (stdout+stderr interleaved) a tracked child printed, for error messages. */
export function recentOutput(child: ChildProcess, n = 30): string[] {
  const info = infos.get(child);
  return info ? info.lines.slice(-n) : [];
}

function describe(child: ChildProcess): string {
  const info = infos.get(child);
  if (!info) return `pid ${child.pid}`;
  let s = `${info.name} (pid ${info.pid})`;
  if (info.spawnError) s += ` failed to start: ${info.spawnError.message}`;
  else if (info.exited) s += ` exited with ${info.exitSignal ?? `code ${info.exitCode}`}`;
  const tail = info.lines.slice(-20);
  if (tail.length) s += `\n--- last output ---\n${tail.join('\n')}`;
  return s;
}

export function isRunning(child: ChildProcess): boolean {
  const info = infos.get(child);
  if (info) return !info.exited;
  return child.exitCode === null && child.signalCode === null;
}

/**
 * Resolve with the first stdout/stderr line matching `regex`. By default lines printed before the
 * call count too (the child keeps a buffer of its last 1000 lines); pass `{fromStart: false}` to
 * only look at new lines. Rejects if the child exits first or on timeout, quoting its last output.
 */
export async function waitForLine(
  child: ChildProcess,
  regex: RegExp,
  timeoutMs: number,
  opts: { fromStart?: boolean } = {},
): Promise<string> {
  const info = infos.get(child);
  if (!info) throw new Error('waitForLine: child was not started with spawnTracked');
  if (!child.stdout && !child.stderr) throw new Error(`waitForLine: ${info.name} has no piped stdout/stderr`);
  if (opts.fromStart !== false) {
    const hit = info.lines.find((l) => regex.test(l));
    if (hit !== undefined) return hit;
  }
  if (info.exited) throw new Error(`waitForLine ${regex}: ${describe(child)}`);
  return new Promise<string>((resolve, reject) => {
    const cleanup = () => {
      clearTimeout(timer);
      info.events.off('line', onLine);
      info.events.off('exit', onExit);
    };
    const onLine = (line: string) => {
      if (regex.test(line)) {
        cleanup();
        resolve(line);
      }
    };
    const onExit = () => {
      // Let the last buffered lines arrive before giving up.
      setTimeout(() => {
        cleanup();
        reject(new Error(`waitForLine ${regex}: ${describe(child)}`));
      }, 50);
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(
        new Error(`waitForLine ${regex}: timed out after ${timeoutMs} ms waiting on ${describe(child)}`),
      );
    }, timeoutMs);
    info.events.on('line', onLine);
    info.events.once('exit', onExit);
  });
}

/**
 * Poll `fn` (every `intervalMs`, default 50 ms) until it returns true. Exceptions count as "not
 * yet"; the last one is quoted in the timeout error, which names `what`.
 */
export async function waitFor(
  fn: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
  opts: { intervalMs?: number } = {},
): Promise<void> {
  const interval = opts.intervalMs ?? 50;
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      if (await fn()) return;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() >= deadline) break;
    await sleep(Math.min(interval, Math.max(0, deadline - Date.now())));
  }
  const why = lastErr ? ` (last error: ${lastErr instanceof Error ? lastErr.message : String(lastErr)})` : '';
  throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}${why}`);
}

/** Resolves when the child has exited (immediately if it already has). */
export function waitForExit(child: ChildProcess, timeoutMs = 10_000): Promise<boolean> {
  const info = infos.get(child);
  const done = info ? info.exitPromise : new Promise<void>((r) => child.once('exit', () => r()));
  if (info?.exited) return Promise.resolve(true);
  return Promise.race([done.then(() => true), sleep(timeoutMs).then(() => false)]);
}

/**
 * Kill a tracked child, its process group and all its descendants (also those that left the group
 * with setsid, like sshd sessions): `signal` (default SIGTERM), then SIGKILL after `graceMs`
 * (default 3 s). Resolves once the leader has exited.
 */
export async function killTracked(
  child: ChildProcess,
  opts: { signal?: NodeJS.Signals; graceMs?: number } = {},
): Promise<void> {
  const info = infos.get(child);
  const pid = child.pid;
  if (pid === undefined) return;
  const family = descendantsOf(pid);
  const signalFamily = (sig: NodeJS.Signals) => {
    for (const p of family) {
      try {
        process.kill(p, sig);
      } catch {
        // gone
      }
    }
  };
  if (!info?.exited) {
    const sig = opts.signal ?? 'SIGTERM';
    signalGroup(pid, sig);
    signalFamily(sig);
    if (!(await waitForExit(child, opts.graceMs ?? KILL_GRACE_MS))) {
      signalGroup(pid, 'SIGKILL');
      await waitForExit(child, 5000);
    }
  }
  // Whatever the leader forked goes too.
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // group already gone
  }
  signalFamily('SIGKILL');
  tracked.delete(pid);
  toWatchdog(`-pid ${pid}`);
}

/** Pids of all live descendants of `pid` (children, grandchildren, ...), from /proc. */
export function descendantsOf(pid: number): number[] {
  const children = new Map<number, number[]>();
  let entries: string[] = [];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return [];
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid);
      if (list) list.push(Number(e));
      else children.set(ppid, [Number(e)]);
    } catch {
      // vanished
    }
  }
  const out: number[] = [];
  const queue = [pid];
  while (queue.length) {
    for (const c of children.get(queue.shift()!) ?? []) {
      if (out.includes(c)) continue;
      out.push(c);
      queue.push(c);
    }
  }
  return out;
}

/** Kill every tracked process group (in parallel). */
export async function killAllTracked(): Promise<void> {
  await Promise.all([...tracked.values()].map(({ child }) => killTracked(child)));
}

/** Base directory for harness temp dirs: the run dir made by the global setup, else os.tmpdir(). */
export function harnessBaseDir(): string {
  const run = process.env.FG_HARNESS_RUN_DIR;
  if (run && fs.existsSync(run)) return run;
  return os.tmpdir();
}

/** mkdtemp under the harness base dir; removed by `removeTempDir`, `cleanupAll` or at exit. */
export function makeTempDir(prefix: string): string {
  installExitHook();
  const dir = fs.mkdtempSync(path.join(harnessBaseDir(), `fg-${prefix}-`));
  tempDirs.add(dir);
  toWatchdog(`dir ${dir}`);
  return dir;
}

/** Have an existing dir removed by `cleanupAll` / at exit, like one from `makeTempDir`. */
export function trackTempDir(dir: string): void {
  installExitHook();
  if (!tempDirs.has(dir)) toWatchdog(`dir ${dir}`);
  tempDirs.add(dir);
}

/** Kill processes still using `dir` (see findProcessesUsing), then rm -rf it. */
export function removeTempDir(dir: string): void {
  killProcessesUsing(dir);
  fs.rmSync(dir, { recursive: true, force: true });
  if (tempDirs.delete(dir)) toWatchdog(`-dir ${dir}`);
}

/** Register an async cleanup run by `cleanupAll()` (last registered runs first). Returns an unregister function. */
export function registerCleanup(name: string, fn: () => unknown): () => void {
  const entry = { name, fn };
  cleanups.push(entry);
  return () => {
    const i = cleanups.indexOf(entry);
    if (i >= 0) cleanups.splice(i, 1);
  };
}

/**
 * Run every registered cleanup (servers' stop()), kill all tracked processes, kill stray processes
 * that still use a harness temp dir, and remove the temp dirs. Safe to call more than once.
 */
export async function cleanupAll(): Promise<void> {
  const errors: string[] = [];
  while (cleanups.length) {
    const { name, fn } = cleanups.pop()!;
    try {
      await fn();
    } catch (err) {
      errors.push(`${name}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  await killAllTracked();
  for (const dir of [...tempDirs]) {
    try {
      await reapProcessesUsing(dir).catch(() => {});
      removeTempDir(dir);
    } catch (err) {
      errors.push(`rm ${dir}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  if (errors.length) throw new Error(`harness cleanup had errors:\n${errors.join('\n')}`);
}

function ancestors(): Set<number> {
  const out = new Set<number>([process.pid]);
  let pid = process.ppid;
  for (let i = 0; i < 64 && pid > 1; i++) {
    out.add(pid);
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      pid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    } catch {
      break;
    }
  }
  return out;
}

const OWNER_VARS = ['FG_HARNESS_OWNER=', 'FG_HOST_ROOT='];

/**
 * Pids of processes that belong to `dir`: their command line mentions it, their cwd is inside it,
 * or they carry FG_HARNESS_OWNER / FG_HOST_ROOT pointing inside it (the harness sets these for the
 * servers it starts and sshd passes FG_HOST_ROOT to every session). Never this process or its parents.
 * Linux only (reads /proc); returns [] elsewhere.
 */
export function findProcessesUsing(dir: string): number[] {
  if (!dir || dir === '/' || !fs.existsSync('/proc')) return [];
  const skip = ancestors();
  const out: number[] = [];
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return [];
  }
  const under = (p: string) => p === dir || p.startsWith(dir + '/');
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    const pid = Number(e);
    if (skip.has(pid)) continue;
    try {
      const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmdline === '') continue; // kernel thread or zombie
      let hit = cmdline.includes(dir);
      if (!hit) {
        try {
          hit = under(fs.readlinkSync(`/proc/${pid}/cwd`));
        } catch {
          // no access
        }
      }
      if (!hit) {
        try {
          const env = fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
          hit = env.some((kv) => OWNER_VARS.some((v) => kv.startsWith(v) && under(kv.slice(v.length))));
        } catch {
          // no access
        }
      }
      if (hit) out.push(pid);
    } catch {
      // process vanished
    }
  }
  return out;
}

/** SIGKILL every process `findProcessesUsing(dir)` reports. Returns the pids it signalled. */
export function killProcessesUsing(dir: string): number[] {
  const pids = findProcessesUsing(dir);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
  return pids;
}

/** Kill what uses `dir` (see killProcessesUsing) and wait (up to `timeoutMs`) until those pids are gone. */
export async function reapProcessesUsing(dir: string, timeoutMs = 3000): Promise<number[]> {
  const pids = killProcessesUsing(dir);
  if (pids.length) {
    await waitFor(
      () => pids.every((p) => !pidAlive(p)),
      timeoutMs,
      `processes ${pids.join(', ')} using ${dir} to die`,
    );
  }
  return pids;
}

/** Check /proc (or signal 0) for a live, non-zombie process. */
export function pidAlive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    if (fs.existsSync('/proc/self')) return false;
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  }
}
