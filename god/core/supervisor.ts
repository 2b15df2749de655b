// One supervised child process: restarted on crash with exponential backoff (reset once it has been up for a
// stable period), stdout/stderr kept in a log rotated by size with a count (the hosts' supervisor's
// RotatingLog) and a small in-memory tail, stopped with SIGTERM then
// SIGKILL. The local provider runs one per role process.
import { type ChildProcess, spawn } from 'node:child_process';
import type { Role } from '../../protocol/redis-contract.ts';
import { RotatingLog } from './deploy/remote/fg-supervisor.mjs';
import type { EventSink } from './events.ts';

export interface SupervisedSpec {
  id: string;
  role: Role;
  command: string;
  args: string[];
  env: Record<string, string>;
  /** false: `env` is the child's whole environment (the local fleet picks what each role gets) */
  inheritEnv?: boolean;
  cwd?: string;
  /** stdout+stderr are appended here (0600; past LOG_BYTES it becomes .1, keeping LOG_FILES files in all) */
  logFile?: string;
}

export interface RestartPolicy {
  backoffMinMs: number;
  backoffMaxMs: number;
  /** up this long: the next crash starts the backoff over */
  stableMs: number;
  /** SIGTERM → SIGKILL */
  stopTimeoutMs: number;
}

export type SupervisedState = 'starting' | 'running' | 'backoff' | 'stopping' | 'stopped';

export interface SupervisedInfo {
  id: string;
  role: Role;
  pid?: number;
  state: SupervisedState;
  restarts: number;
  started_at?: string;
  last_exit?: { code: number | null; signal: string | null; at: string };
  /** ms until the next restart attempt while in backoff */
  next_restart_in_ms?: number;
}

const TAIL_LINES = 200;
const LOG_BYTES = 5 * 1024 * 1024;
const LOG_FILES = 3;

/** Delay before restart number `crashesInRow` (1-based): min, 2·min, 4·min ... capped at max. */
export function backoffDelay(crashesInRow: number, p: Pick<RestartPolicy, 'backoffMinMs' | 'backoffMaxMs'>) {
  return Math.min(p.backoffMaxMs, p.backoffMinMs * 2 ** Math.max(0, Math.min(crashesInRow - 1, 20)));
}

export class SupervisedProcess {
  state: SupervisedState = 'stopped';
  restarts = 0;
  private child?: ChildProcess;
  private crashesInRow = 0;
  private startedAt?: number;
  private lastExit?: SupervisedInfo['last_exit'];
  private timer?: NodeJS.Timeout;
  private restartAt?: number;
  private exited?: Promise<void>;
  private readonly lines: string[] = [];
  private log?: RotatingLog;

  constructor(
    readonly spec: SupervisedSpec,
    private readonly policy: RestartPolicy,
    private readonly events: EventSink,
    /** called on every state change (the fleet persists its state file) */
    private readonly onChange: () => void = () => {},
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  info(): SupervisedInfo {
    return {
      id: this.spec.id,
      role: this.spec.role,
      pid: this.state === 'running' || this.state === 'stopping' ? this.child?.pid : undefined,
      state: this.state,
      restarts: this.restarts,
      started_at: this.startedAt ? new Date(this.startedAt).toISOString() : undefined,
      last_exit: this.lastExit,
      next_restart_in_ms: this.restartAt ? Math.max(0, this.restartAt - Date.now()) : undefined,
    };
  }

  /** The last lines the process printed. */
  tail(n = 50): string[] {
    return this.lines.slice(-n);
  }

  start(): void {
    if (this.state === 'running' || this.state === 'starting') return;
    clearTimeout(this.timer);
    this.restartAt = undefined;
    this.spawnChild();
  }

  private spawnChild(): void {
    const { spec } = this;
    this.state = 'starting';
    const child = spawn(spec.command, spec.args, {
      cwd: spec.cwd,
      env: spec.inheritEnv === false ? spec.env : { ...process.env, ...spec.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    let resolveExit!: () => void;
    this.exited = new Promise((r) => (resolveExit = r));
    child.stdout?.on('data', (d: Buffer) => this.capture(d));
    child.stderr?.on('data', (d: Buffer) => this.capture(d));
    child.on('error', (err) => {
      // spawn failure (ENOENT...): no 'exit' follows when there is no pid
      this.capture(Buffer.from(`god: cannot start ${spec.command}: ${err.message}\n`));
      if (child.pid === undefined) this.onExit(child, null, null, resolveExit);
    });
    child.once('exit', (code, signal) => this.onExit(child, code, signal, resolveExit));
    if (child.pid !== undefined) {
      this.state = 'running';
      this.startedAt = Date.now();
      this.events.emit({ type: 'process', action: 'started', role: spec.role, id: spec.id, pid: child.pid });
    }
    this.onChange();
  }

  private onExit(
    child: ChildProcess,
    code: number | null,
    signal: NodeJS.Signals | null,
    resolveExit: () => void,
  ): void {
    if (child !== this.child) return;
    resolveExit();
    const upMs = this.startedAt ? Date.now() - this.startedAt : 0;
    this.lastExit = { code, signal, at: new Date().toISOString() };
    const { spec } = this;
    if (this.state === 'stopping' || this.state === 'stopped') {
      this.state = 'stopped';
      this.events.emit({
        type: 'process',
        action: 'stopped',
        role: spec.role,
        id: spec.id,
        pid: child.pid,
        code,
      });
      this.onChange();
      return;
    }
    this.events.emit({
      type: 'process',
      action: 'exited',
      role: spec.role,
      id: spec.id,
      pid: child.pid,
      code,
      detail: signal ? `killed by ${signal}` : `exit code ${code}`,
    });
    if (upMs >= this.policy.stableMs) this.crashesInRow = 0;
    this.crashesInRow++;
    const delay = backoffDelay(this.crashesInRow, this.policy);
    this.state = 'backoff';
    this.restartAt = Date.now() + delay;
    this.events.emit({
      type: 'process',
      action: 'restarting',
      role: spec.role,
      id: spec.id,
      detail: `in ${delay} ms (crash ${this.crashesInRow} in a row)`,
    });
    this.timer = setTimeout(() => {
      this.restartAt = undefined;
      this.restarts++;
      this.spawnChild();
    }, delay);
    this.timer.unref();
    this.onChange();
  }

  /** SIGTERM, SIGKILL after the stop timeout; resolves once the process is gone. No restart follows. */
  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.restartAt = undefined;
    const child = this.child;
    if (!child || this.state === 'stopped' || this.state === 'backoff' || child.exitCode !== null) {
      this.state = 'stopped';
      this.onChange();
      this.closeLog();
      return;
    }
    this.state = 'stopping';
    this.onChange();
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), this.policy.stopTimeoutMs);
    await this.exited;
    clearTimeout(killer);
    this.closeLog();
  }

  /** Stop, then start again with a fresh backoff. */
  async restart(): Promise<void> {
    await this.stop();
    this.crashesInRow = 0;
    this.restarts++;
    this.spawnChild();
  }

  private capture(d: Buffer): void {
    const text = d.toString('utf8');
    for (const line of text.split('\n'))
      if (line) this.lines.push(line.length > 2000 ? line.slice(0, 2000) : line);
    if (this.lines.length > TAIL_LINES) this.lines.splice(0, this.lines.length - TAIL_LINES);
    if (!this.spec.logFile) return;
    // a full disk must not take the supervisor down (RotatingLog drops the write); the tail still has the lines
    this.log ??= new RotatingLog(this.spec.logFile, { maxBytes: LOG_BYTES, files: LOG_FILES });
    this.log.write(d);
  }

  private closeLog(): void {
    this.log?.close();
    this.log = undefined;
  }
}
