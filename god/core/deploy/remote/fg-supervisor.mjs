#!/usr/bin/env node
// Shipped with every release: keeps one role process alive on a host without systemd.
// Usage: node fg-supervisor.mjs <base_dir> <id>, with $FG_SUPERVISOR = JSON {kill_ms, log, log_bytes, log_files,
// cwd, env, uid?, gid?} from the agent. Reads <base>/run/<id>.json ({role, id, env}) while it is still the agent's
// user (root: the spec holds secrets), runs `node <base>/current/<role>.mjs` with that env as uid/gid (the fleet
// user: never root), restarts it on a crash with backoff, forwards SIGTERM, and writes the role's output to a log
// rotated by size with a count (`log`, `log.1` ... `log.<log_files-1>`).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * An append-only log rotated by size: past `maxBytes` the file becomes `.1`, `.1` becomes `.2` ... and the
 * oldest beyond `files` in all is removed. 0600: role output can hold secrets. Write errors (a full disk) are
 * swallowed: losing log lines must not stop the role.
 */
export class RotatingLog {
  constructor(file, { maxBytes, files }) {
    this.file = file;
    this.maxBytes = Math.max(1024, Number(maxBytes) || 0);
    this.files = Math.max(1, Math.floor(Number(files) || 1));
    this.fd = undefined;
    this.bytes = 0;
  }

  open() {
    this.fd = fs.openSync(this.file, 'a', 0o600);
    this.bytes = fs.fstatSync(this.fd).size;
  }

  rotate() {
    this.close();
    const name = (i) => (i === 0 ? this.file : `${this.file}.${i}`);
    // files beyond the count (a smaller count than before, or the single .1 of older releases) go first
    for (let i = this.files - 1; fs.existsSync(name(i)) && i < this.files + 100; i++) {
      if (i > 0) fs.rmSync(name(i), { force: true });
    }
    for (let i = this.files - 2; i >= 0; i--) {
      if (fs.existsSync(name(i))) fs.renameSync(name(i), name(i + 1));
    }
    if (this.files === 1) fs.rmSync(this.file, { force: true });
  }

  /** A chunk that would pass the size is split, at its last whole line where it has one. */
  write(buf) {
    try {
      if (this.fd === undefined) this.open();
      let rest = buf;
      while (rest.length) {
        if (this.bytes > 0 && this.bytes + rest.length > this.maxBytes) {
          this.rotate();
          this.open();
        }
        let n = Math.min(rest.length, Math.max(1, this.maxBytes - this.bytes));
        if (n < rest.length) {
          const nl = rest.lastIndexOf(10, n - 1);
          if (nl >= 0) n = nl + 1;
        }
        const w = fs.writeSync(this.fd, rest, 0, n);
        this.bytes += w;
        rest = rest.subarray(w);
      }
    } catch {
      this.close();
    }
  }

  close() {
    if (this.fd === undefined) return;
    try {
      fs.closeSync(this.fd);
    } catch {}
    this.fd = undefined;
  }
}

/**
 * The config's secrets (run/<id>.secrets.env, 0600, written by the agent's envFileText: KEY="value" lines, a
 * backslash escaping " \\ ` $). Read like the spec, as the agent's user; absent when the process has none.
 */
export function readEnvFile(file) {
  let text;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return {};
  }
  const env = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"$/.exec(line);
    if (m) env[m[1]] = m[2].replace(/\\(.)/g, '$1');
  }
  return env;
}

function main(base, id) {
  const opts = JSON.parse(process.env.FG_SUPERVISOR || '{}');
  const runDir = path.join(base, 'run');
  const stateFile = path.join(runDir, `${id}.state`);
  const pidFile = path.join(runDir, `${id}.pid`);
  const log = new RotatingLog(opts.log ?? path.join(base, 'logs', `${id}.log`), {
    maxBytes: opts.log_bytes ?? 10 * 1024 * 1024,
    files: opts.log_files ?? 5,
  });
  // read once, as the agent's user: the role cannot read it (0600) and a restart reuses it
  const spec = JSON.parse(fs.readFileSync(path.join(runDir, `${id}.json`), 'utf8'));
  const { FG_SUPERVISOR: _, ...inherited } = process.env;
  const env = {
    ...inherited,
    ...opts.env,
    ...spec.env,
    ...readEnvFile(path.join(runDir, `${id}.secrets.env`)),
  };
  const drop = opts.uid !== undefined ? { uid: opts.uid, gid: opts.gid } : {};

  let child;
  let stopping = false;
  let restarts = 0;
  let lastExit = null;
  let backoff = 500;

  const now = () => new Date().toISOString();
  const say = (msg) => log.write(Buffer.from(`${JSON.stringify({ at: now(), supervisor: id, msg })}\n`));

  function writeState(extra = {}) {
    const s = {
      id,
      supervisor_pid: process.pid,
      child_pid: child?.pid ?? null,
      uid: opts.uid ?? process.getuid?.(),
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
    const bundle = path.join(base, 'current', `${spec.role}.mjs`);
    const started = Date.now();
    child = spawn(process.execPath, [bundle], {
      cwd: opts.cwd ?? base,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...drop,
    });
    child.stdout.on('data', (d) => log.write(d));
    child.stderr.on('data', (d) => log.write(d));
    child.on('error', (err) => say(`cannot start ${spec.role}: ${err.message}`));
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
      log.close();
      process.exit(0);
    };
    if (!child) return done();
    const timeout = Number(opts.kill_ms ?? 15_000);
    const t = setTimeout(() => child?.kill('SIGKILL'), timeout);
    child.once('exit', () => {
      clearTimeout(t);
      // the pipes may still hold the role's last lines
      setImmediate(done);
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
  process.on('uncaughtException', (err) => {
    say(`supervisor error: ${err?.stack ?? err}`);
    child?.kill('SIGTERM');
    process.exit(1);
  });
  start();
}

/** Run as a program, not when imported (the local fleet's supervisor and tests use RotatingLog). */
function isMain() {
  try {
    return fs.realpathSync(process.argv[1] ?? '') === fs.realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMain()) {
  const [base, id] = process.argv.slice(2);
  if (!base || !id) {
    process.stderr.write('usage: fg-supervisor.mjs <base_dir> <id>\n');
    process.exit(2);
  }
  main(base, id);
}
