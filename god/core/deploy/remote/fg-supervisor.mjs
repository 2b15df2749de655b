#!/usr/bin/env node
// Shipped with every release: keeps one role process alive on a host without systemd.
// Usage: node fg-supervisor.mjs <base_dir> <id>. Reads <base>/run/<id>.json ({role, id, env}), runs
// `node <base>/current/<role>.mjs` with that env, restarts it on a crash with backoff, forwards SIGTERM.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const [base, id] = process.argv.slice(2);
if (!base || !id) {
  process.stderr.write('usage: fg-supervisor.mjs <base_dir> <id>\n');
  process.exit(2);
}
const runDir = path.join(base, 'run');
const specFile = path.join(runDir, `${id}.json`);
const stateFile = path.join(runDir, `${id}.state`);
const pidFile = path.join(runDir, `${id}.pid`);

let child;
let stopping = false;
let restarts = 0;
let lastExit = null;
let backoff = 500;

const now = () => new Date().toISOString();
const say = (msg) => process.stdout.write(`${JSON.stringify({ at: now(), supervisor: id, msg })}\n`);

function writeState(extra = {}) {
  const s = {
    id,
    supervisor_pid: process.pid,
    child_pid: child?.pid ?? null,
    restarts,
    last_exit: lastExit,
    ...extra,
  };
  try {
    fs.writeFileSync(`${stateFile}.tmp`, JSON.stringify(s));
    fs.renameSync(`${stateFile}.tmp`, stateFile);
  } catch {
    // the state file is informative only
  }
}

function start() {
  const spec = JSON.parse(fs.readFileSync(specFile, 'utf8'));
  const bundle = path.join(base, 'current', `${spec.role}.mjs`);
  const started = Date.now();
  child = spawn(process.execPath, [bundle], {
    cwd: base,
    env: { ...process.env, ...spec.env },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  say(`started ${spec.role} pid ${child.pid} (${fs.realpathSync(path.join(base, 'current'))})`);
  writeState({ started_at: now() });
  child.on('exit', (code, signal) => {
    lastExit = { code, signal, at: now() };
    child = undefined;
    if (stopping) return;
    restarts++;
    // a process that ran for a minute was healthy: start over with a short delay
    backoff = Date.now() - started > 60_000 ? 500 : Math.min(backoff * 2, 30_000);
    say(`exited (${signal ?? `code ${code}`}); restart #${restarts} in ${backoff} ms`);
    writeState();
    setTimeout(() => {
      if (!stopping) start();
    }, backoff);
  });
}

function stop(sig) {
  if (stopping) return;
  stopping = true;
  say(`${sig}: stopping`);
  const done = () => {
    try {
      if (fs.readFileSync(pidFile, 'utf8').trim() === String(process.pid)) fs.unlinkSync(pidFile);
    } catch {
      // already gone
    }
    writeState({ stopped_at: now() });
    process.exit(0);
  };
  if (!child) return done();
  const timeout = Number(process.env.FG_SUPERVISOR_KILL_MS ?? 15_000);
  const t = setTimeout(() => child?.kill('SIGKILL'), timeout);
  child.once('exit', () => {
    clearTimeout(t);
    done();
  });
  child.kill('SIGTERM');
}

fs.writeFileSync(pidFile, String(process.pid));
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGHUP', () => {
  // restart the child in place (same supervisor)
  if (child) child.kill('SIGTERM');
});
start();
