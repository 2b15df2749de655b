// A real role process (bin/<role>.mjs) against a test Redis, tracked like every harness process.
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { makeTempDir, spawnTracked } from './procs.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

export interface RoleProcessOptions {
  redisUrl: string;
  prefix: string;
  /** FG_ID of the process; also its name in the harness's logs */
  id: string;
  args?: string[];
  env?: Record<string, string>;
}

/** Start `bin/<role>.mjs` with --redis/--prefix/--id; its keeper spool (XDG state) is a private temp dir. */
export function spawnRole(role: 'feeder' | 'endpoint' | 'keeper', o: RoleProcessOptions): ChildProcess {
  return spawnTracked(
    process.execPath,
    [
      path.join(ROOT, `bin/${role}.mjs`),
      '--redis',
      o.redisUrl,
      '--prefix',
      o.prefix,
      '--id',
      o.id,
      ...(o.args ?? []),
    ],
    {
      cwd: ROOT,
      name: o.id,
      env: { ...process.env, XDG_STATE_HOME: makeTempDir(`${o.id}-state`), ...o.env },
    },
  );
}
