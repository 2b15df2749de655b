import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findProcessesUsing, killProcessesUsing, pidAlive, sleep } from './procs.ts';

/**
 * vitest globalSetup. Makes one run dir (os.tmpdir()/fg-run-XXXX) that every harness temp dir of
 * this run lives in (workers find it through FG_HARNESS_RUN_DIR), and at teardown kills whatever
 * still uses it (servers of a crashed worker, stray deploys) and removes it. Run dirs left by an
 * earlier run that was killed (owner pid dead) are swept at start.
 */

const PREFIX = 'fg-run-';

function sweep(dir: string): void {
  killProcessesUsing(dir);
  fs.rmSync(dir, { recursive: true, force: true });
}

function sweepStaleRuns(): void {
  let names: string[] = [];
  try {
    names = fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith(PREFIX));
  } catch {
    return;
  }
  for (const name of names) {
    const dir = path.join(os.tmpdir(), name);
    let owner = Number.NaN;
    try {
      owner = Number(fs.readFileSync(path.join(dir, 'owner.pid'), 'utf8').trim());
    } catch {
      // no owner file: leave it alone unless it is old
      try {
        if (Date.now() - fs.statSync(dir).mtimeMs < 24 * 3600_000) continue;
      } catch {
        continue;
      }
    }
    if (Number.isInteger(owner) && owner > 0 && pidAlive(owner)) continue;
    try {
      sweep(dir);
    } catch {
      // not ours to remove (permissions): ignore
    }
  }
}

export default async function setup(): Promise<() => Promise<void>> {
  sweepStaleRuns();
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), PREFIX));
  fs.writeFileSync(path.join(runDir, 'owner.pid'), String(process.pid));
  process.env.FG_HARNESS_RUN_DIR = runDir;
  return async () => {
    for (let i = 0; i < 3 && findProcessesUsing(runDir).length; i++) {
      killProcessesUsing(runDir);
      await sleep(100);
    }
    fs.rmSync(runDir, { recursive: true, force: true });
    delete process.env.FG_HARNESS_RUN_DIR;
  };
}
