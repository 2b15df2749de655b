// The local fleet's state file (<state dir>/state.json): what one `god` invocation leaves for the next
// (supervisor pid and socket, the Redis URL, every process with its pid and port).
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { RoleSchema } from '../../../protocol/redis-contract.ts';

export const LocalProcessSchema = z.object({
  id: z.string(),
  role: RoleSchema,
  pid: z.number().int().optional(),
  state: z.enum(['starting', 'running', 'backoff', 'stopping', 'stopped']),
  restarts: z.number().int(),
  started_at: z.string().optional(),
  port: z.number().int().optional(),
  log_file: z.string().optional(),
  last_exit: z
    .object({ code: z.number().int().nullable(), signal: z.string().nullable(), at: z.string() })
    .optional(),
});
export type LocalProcess = z.infer<typeof LocalProcessSchema>;

export const LocalStateSchema = z.object({
  version: z.literal(1),
  /** pid of the process running the fleet (the daemon, or the demo in-process) */
  supervisor_pid: z.number().int(),
  /** control socket of a daemonized supervisor */
  socket: z.string().optional(),
  started_at: z.string(),
  redis_url: z.string(),
  /** pid of the private redis-server, when the fleet runs its own */
  redis_pid: z.number().int().optional(),
  prefix: z.string(),
  host: z.string(),
  desired: z.record(RoleSchema, z.number().int()),
  processes: z.array(LocalProcessSchema),
  config_file: z.string().optional(),
});
export type LocalState = z.infer<typeof LocalStateSchema>;

/** --state-dir / GOD_STATE_DIR, else config local.state_dir, else .god/local under the working dir. */
export function resolveStateDir(o: {
  flag?: string;
  configured?: string;
  baseDir: string;
  cwd?: string;
}): string {
  if (o.flag) return path.resolve(o.cwd ?? process.cwd(), o.flag);
  if (o.configured) return path.resolve(o.baseDir, o.configured);
  return path.resolve(o.cwd ?? process.cwd(), '.god', 'local');
}

export const stateFile = (dir: string) => path.join(dir, 'state.json');

/** Unix socket paths are limited to ~107 bytes: deep state dirs get a hashed name in the temp dir. */
export function socketPath(dir: string): string {
  const p = path.join(dir, 'supervisor.sock');
  if (Buffer.byteLength(p) < 100) return p;
  const h = crypto.createHash('sha1').update(dir).digest('hex').slice(0, 16);
  return path.join(os.tmpdir(), `god-${h}.sock`);
}

export function readState(dir: string): LocalState | undefined {
  let text: string;
  try {
    text = fs.readFileSync(stateFile(dir), 'utf8');
  } catch {
    return undefined;
  }
  try {
    return LocalStateSchema.parse(JSON.parse(text));
  } catch {
    return undefined;
  }
}

/** Atomic: a reader never sees half a file. */
export function writeState(dir: string, s: LocalState): void {
  fs.mkdirSync(dir, { recursive: true });
  const tmp = `${stateFile(dir)}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(s, null, 2)}\n`);
  fs.renameSync(tmp, stateFile(dir));
}

export function removeState(dir: string): void {
  fs.rmSync(stateFile(dir), { force: true });
}

export function pidAlive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const st = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return st !== 'Z' && st !== 'X';
  } catch {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  }
}
