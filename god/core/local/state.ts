// The local fleet's state file (<state dir>/state.json): what one `god` invocation leaves for the next
// (supervisor pid and socket, the Redis URL, every process with its pid and port).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { RoleSchema } from '../../../protocol/redis-contract.ts';
import { UserError } from '../../../kernel/errors.ts';

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

/**
 * A folder only this user can enter (0700), for everything that holds a secret: the state dir (state.json
 * and supervisor.log carry the Redis password), logs/, redis/. An existing folder of ours is tightened; one
 * that belongs to another user, or is a symlink, is refused: it could be read or swapped under us.
 */
export function ensurePrivateDir(dir: string): string {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = fs.lstatSync(dir);
  const uid = process.getuid?.();
  if (!st.isDirectory() || (uid !== undefined && st.uid !== uid)) {
    throw new UserError(
      `${dir} is ${st.isDirectory() ? `owned by uid ${st.uid}, not by this user (uid ${uid})` : st.isSymbolicLink() ? 'a symbolic link, not a folder of its own' : 'not a folder'}`,
      {
        code: 'GOD_STATE_DIR',
        hint: 'God keeps secrets there (the Redis password): point --state-dir / GOD_STATE_DIR at a folder of your own.',
      },
    );
  }
  if ((st.mode & 0o777) !== 0o700) fs.chmodSync(dir, 0o700);
  return dir;
}

/** Write a file only its owner can read, atomically (a reader never sees half a file). */
export function writePrivateFile(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.rmSync(tmp, { force: true });
  // mode at creation (O_EXCL): never readable by others, even before a chmod
  fs.writeFileSync(tmp, text, { mode: 0o600, flag: 'wx' });
  fs.renameSync(tmp, file);
}

/**
 * The control socket. Unix socket paths are limited to ~107 bytes: deep state dirs get one in a fresh 0700
 * folder in the temp dir (random name, so nobody can plant or pre-create it; the path is in state.json). The
 * socket is created inside a folder only we can enter, so it is never reachable by others, not even between
 * listen() and chmod().
 */
export function socketPath(dir: string): string {
  const p = path.join(ensurePrivateDir(dir), 'supervisor.sock');
  if (Buffer.byteLength(p) < 100) return p;
  return path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'god-')), 'supervisor.sock');
}

/** Remove a socket and, for the temp-dir fallback, its private folder. */
export function removeSocket(socket: string): void {
  fs.rmSync(socket, { force: true });
  const dir = path.dirname(socket);
  if (path.dirname(dir) === os.tmpdir() && path.basename(dir).startsWith('god-')) {
    try {
      fs.rmdirSync(dir);
    } catch {}
  }
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

/** Atomic, 0600 in a 0700 folder: it holds the Redis URL with its password. */
export function writeState(dir: string, s: LocalState): void {
  ensurePrivateDir(dir);
  writePrivateFile(stateFile(dir), `${JSON.stringify(s, null, 2)}\n`);
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
