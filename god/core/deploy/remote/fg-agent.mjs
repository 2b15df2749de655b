#!/usr/bin/env node
// Shipped with every release: does a host's side of a deploy in one SSH round trip. Plain Node, no dependencies.
// Runs on the release's own Node (releases/<v>/node → runtimes/<name>/bin/node), and so do the supervisors and
// the role processes it starts (process.execPath): switching `current` and restarting switches Node too.
// Reads one JSON request on stdin, prints one JSON result on stdout (exit 1 with {error} on failure).
//   activate  {base, version, processes:[{role,id,env}], restart:[id], stop:[id], sums:{file:sha}, forget:[version], keep, mode}
//   start     {base, processes?:[...], ids?:[id]}   start what is not running (writing specs given)
//   stop      {base, ids?:[id], role?}              stop (and forget) processes
//   restart   {base, ids?:[id], role?}
//   deactivate {base, ids:[id]}                     undo a first deploy: stop, drop `current`
//   status    {base}
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const MAX_LOG = 20 * 1024 * 1024;

async function readStdin() {
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

/** run/<id>.json and run/<id>.env hold the role's secrets (FG_REDIS_URL...): 0600, written whole. */
function writePrivate(file, text) {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.rmSync(tmp, { force: true });
  fs.writeFileSync(tmp, text, { mode: 0o600, flag: 'wx' });
  fs.renameSync(tmp, file);
}

/** A folder only the agent's user enters; tightened when an older release made it 0755. */
function privateDir(dir) {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.chmodSync(dir, 0o700);
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The EnvironmentFile= of a unit: KEY="value" lines (systemd's env-file syntax: inside double quotes a
 * backslash escapes " \ ` $). A newline would start a new assignment, NUL cannot be passed and % is a unit
 * specifier: such values are refused, naming the key (never the value: it may be a secret).
 */
export function envFileText(env) {
  const lines = ['# fg-agent: the environment of one role process (0600, root: it holds secrets)'];
  for (const [k, raw] of Object.entries(env ?? {})) {
    const v = String(raw);
    if (!ENV_NAME.test(k)) throw new Error(`environment variable name ${JSON.stringify(k)} is not valid`);
    const bad = /[\n\r]/.test(v)
      ? 'a newline'
      : v.includes('\0')
        ? 'a NUL byte'
        : v.includes('%')
          ? 'a "%"'
          : '';
    if (bad) throw new Error(`the value of ${k} contains ${bad}; refused for a systemd unit`);
    lines.push(`${k}="${v.replace(/[\\"`$]/g, (c) => `\\${c}`)}"`);
  }
  return `${lines.join('\n')}\n`;
}

/** % starts a specifier in unit files; paths come from the config */
const unitPath = (p) => p.replace(/%/g, '%%');
const unitArg = (p) => `"${unitPath(p).replace(/[\\"]/g, (c) => `\\${c}`)}"`;

/** The unit of one role process: no secret in it (world-readable); they are in `envFile`. */
export function unitText({ id, role, execPath, base, logs, killMs, envFile }) {
  for (const [k, v] of Object.entries({ id, role, execPath, base, logs, envFile })) {
    if (/[\n\r\0]/.test(String(v))) throw new Error(`the ${k} of a unit contains a newline or NUL; refused`);
  }
  const log = unitPath(path.join(logs, `${id}.log`));
  return [
    '[Unit]',
    `Description=Filmgrain ${unitPath(role)} ${unitPath(id)}`,
    'After=network-online.target',
    '[Service]',
    `ExecStart=${unitArg(execPath)} ${unitArg(path.join(base, 'current', `${role}.mjs`))}`,
    `WorkingDirectory=${unitPath(base)}`,
    `EnvironmentFile=${unitPath(envFile)}`,
    'Restart=on-failure',
    'RestartSec=1',
    `TimeoutStopSec=${Math.ceil(killMs / 1000)}`,
    `StandardOutput=append:${log}`,
    `StandardError=append:${log}`,
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}

const sha256 = (file) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

/** Whether `pid` is our supervisor for `id` (not a recycled pid). */
function isSupervisor(pid, id) {
  if (!alive(pid)) return false;
  try {
    const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmd.includes('fg-supervisor') && cmd.includes(id);
  } catch {
    return !fs.existsSync('/proc'); // no /proc: trust the pid file
  }
}

function readJson(file, dflt) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return dflt;
  }
}

class Host {
  constructor(req) {
    this.base = req.base;
    this.run = path.join(this.base, 'run');
    this.logs = path.join(this.base, 'logs');
    // specs and env files hold secrets, logs may: only the agent's user (root under systemd) reads them
    privateDir(this.run);
    privateDir(this.logs);
    this.mode = req.mode === 'supervisor' || req.mode === 'systemd' ? req.mode : this.detectMode();
    this.killMs = Number(req.kill_ms ?? 15_000);
  }

  detectMode() {
    if (!fs.existsSync('/run/systemd/system') || process.getuid?.() !== 0) return 'supervisor';
    try {
      execFileSync('systemctl', ['--version'], { stdio: 'ignore' });
      return 'systemd';
    } catch {
      return 'supervisor';
    }
  }

  specFile(id) {
    return path.join(this.run, `${id}.json`);
  }
  pid(id) {
    const n = Number(readJson(path.join(this.run, `${id}.pid`), NaN));
    return Number.isInteger(n) && n > 0 ? n : undefined;
  }
  ids() {
    return fs
      .readdirSync(this.run)
      .filter((f) => f.endsWith('.json'))
      .map((f) => f.slice(0, -5));
  }
  select(req) {
    const ids = req.ids ?? this.ids();
    return req.role ? ids.filter((id) => readJson(this.specFile(id), {}).role === req.role) : ids;
  }
  writeSpec(p) {
    writePrivate(this.specFile(p.id), JSON.stringify(p));
  }
  envFile(id) {
    return path.join(this.run, `${id}.env`);
  }
  unit(id) {
    return `fg-${id}.service`;
  }

  running(id) {
    if (this.mode === 'systemd') {
      try {
        execFileSync('systemctl', ['is-active', '--quiet', this.unit(id)]);
        return true;
      } catch {
        return false;
      }
    }
    const pid = this.pid(id);
    return pid !== undefined && isSupervisor(pid, id);
  }

  async start(id) {
    const spec = readJson(this.specFile(id));
    if (!spec) throw new Error(`no process spec for ${id} in ${this.run}`);
    if (this.mode === 'systemd') {
      // secrets in a 0600 root-owned EnvironmentFile, not in Environment= lines of a world-readable unit
      writePrivate(this.envFile(id), envFileText(spec.env));
      const unit = unitText({
        id,
        role: spec.role,
        execPath: process.execPath,
        base: this.base,
        logs: this.logs,
        killMs: this.killMs,
        envFile: this.envFile(id),
      });
      // systemd creates an append: log 0644; made first so it is the agent's 0600 file
      fs.closeSync(fs.openSync(path.join(this.logs, `${id}.log`), 'a', 0o600));
      fs.writeFileSync(`/etc/systemd/system/${this.unit(id)}`, unit);
      execFileSync('systemctl', ['daemon-reload']);
      execFileSync('systemctl', ['enable', this.unit(id)], { stdio: 'ignore' });
      execFileSync('systemctl', ['restart', this.unit(id)]);
      return { id, unit: this.unit(id) };
    }
    const log = path.join(this.logs, `${id}.log`);
    try {
      if (fs.statSync(log).size > MAX_LOG) fs.renameSync(log, `${log}.1`);
    } catch {
      // no log yet
    }
    const fd = fs.openSync(log, 'a', 0o600);
    const sup = path.join(this.base, 'current', 'fg-supervisor.mjs');
    // own session: survives the SSH session, gets no SIGHUP when it ends
    const child = spawn(process.execPath, [sup, this.base, id], {
      cwd: this.base,
      detached: true,
      stdio: ['ignore', fd, fd],
      env: { ...process.env, FG_SUPERVISOR_KILL_MS: String(this.killMs) },
    });
    child.unref();
    fs.closeSync(fd);
    fs.writeFileSync(path.join(this.run, `${id}.pid`), String(child.pid));
    return { id, pid: child.pid };
  }

  async stop(id, forget = false) {
    let was = false;
    if (this.mode === 'systemd') {
      was = this.running(id);
      try {
        execFileSync('systemctl', ['stop', this.unit(id)], { stdio: 'ignore' });
        if (forget) {
          execFileSync('systemctl', ['disable', this.unit(id)], { stdio: 'ignore' });
          fs.rmSync(`/etc/systemd/system/${this.unit(id)}`, { force: true });
        }
      } catch {
        // not installed
      }
    } else {
      const pid = this.pid(id);
      if (pid !== undefined && isSupervisor(pid, id)) {
        was = true;
        // the supervisor forwards SIGTERM to the role (a second SIGTERM would make the role exit at once)
        process.kill(pid, 'SIGTERM');
        const deadline = Date.now() + this.killMs + 2000;
        while (alive(pid) && Date.now() < deadline) await sleep(25);
        if (alive(pid)) {
          try {
            process.kill(-pid, 'SIGKILL');
          } catch {
            process.kill(pid, 'SIGKILL');
          }
        }
      }
      fs.rmSync(path.join(this.run, `${id}.pid`), { force: true });
    }
    if (forget) {
      fs.rmSync(this.specFile(id), { force: true });
      fs.rmSync(this.envFile(id), { force: true });
      fs.rmSync(path.join(this.run, `${id}.state`), { force: true });
    }
    return { id, was_running: was };
  }

  current() {
    try {
      return path.basename(fs.readlinkSync(path.join(this.base, 'current')));
    } catch {
      return null;
    }
  }

  history() {
    try {
      return fs.readFileSync(path.join(this.base, 'releases.log'), 'utf8').split('\n').filter(Boolean);
    } catch {
      return [];
    }
  }

  /** Point `current` at a release; `forget` drops failed releases from the history (pruned after). */
  switchTo(version, forget = []) {
    const link = path.join(this.base, 'current');
    const tmp = path.join(this.base, `.current.${process.pid}`);
    fs.rmSync(tmp, { force: true });
    fs.symlinkSync(path.join('releases', version), tmp);
    fs.renameSync(tmp, link); // atomic replace
    const old = this.history();
    const h = old.filter((v) => !forget.includes(v));
    if (h[h.length - 1] !== version) h.push(version);
    if (h.join('\n') !== old.join('\n')) {
      fs.writeFileSync(path.join(this.base, 'releases.log'), `${h.slice(-50).join('\n')}\n`);
    }
  }

  prune(keep) {
    const cur = this.current();
    const wanted = new Set(cur ? [cur] : []);
    const h = this.history();
    for (let i = h.length - 1; i >= 0 && wanted.size < keep; i--) wanted.add(h[i]);
    const pruned = [];
    const dir = path.join(this.base, 'releases');
    for (const v of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
      if (!wanted.has(v)) {
        fs.rmSync(path.join(dir, v), { recursive: true, force: true });
        pruned.push(v);
      }
    }
    this.pruneRuntimes();
    return pruned;
  }

  /** A runtime no kept release links to goes with the last of them (never the one we run on). */
  pruneRuntimes() {
    const dir = path.join(this.base, 'runtimes');
    const rels = path.join(this.base, 'releases');
    const used = new Set([path.basename(path.dirname(path.dirname(process.execPath)))]);
    for (const v of fs.existsSync(rels) ? fs.readdirSync(rels) : []) {
      try {
        used.add(path.basename(path.dirname(path.dirname(fs.readlinkSync(path.join(rels, v, 'node'))))));
      } catch {
        // a release without a runtime link
      }
    }
    for (const name of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
      // .<name>.tgz.part / .<name>.tmp.<pid>: an install under way (or one that died) is left to its deploy
      if (name.startsWith('.') || used.has(name)) continue;
      fs.rmSync(path.join(dir, name), { recursive: true, force: true });
    }
  }

  status() {
    return {
      mode: this.mode,
      node: process.version,
      current: this.current(),
      history: this.history(),
      processes: this.ids().map((id) => {
        const spec = readJson(this.specFile(id), {});
        const st = readJson(path.join(this.run, `${id}.state`), {});
        return {
          id,
          role: spec.role,
          running: this.running(id),
          pid: this.pid(id) ?? null,
          child_pid: st.child_pid ?? null,
          restarts: st.restarts ?? 0,
          last_exit: st.last_exit ?? null,
        };
      }),
    };
  }
}

async function activate(req, host) {
  const rel = path.join(host.base, 'releases', req.version);
  // God's shell prelude already copied reused files and renamed the uploaded *.part files
  const sums = req.sums ?? {};
  for (const [f, want] of Object.entries(sums)) {
    const file = path.join(rel, f);
    if (!fs.existsSync(file)) throw new Error(`release ${req.version} lacks ${f}`);
    const got = sha256(file);
    if (got !== want)
      throw new Error(`release ${req.version}: ${f} has sha256 ${got}, expected ${want} (corrupt upload)`);
  }
  for (const f of fs.readdirSync(rel)) if (f.endsWith('.mjs')) fs.chmodSync(path.join(rel, f), 0o755);
  if (Object.keys(sums).length) {
    const lines = Object.entries(sums).map(([f, s]) => `${s}  ${f}`);
    fs.writeFileSync(path.join(rel, 'SHA256SUMS'), `${lines.join('\n')}\n`);
  }
  for (const p of req.processes ?? []) host.writeSpec(p);
  const previous = host.current();
  host.switchTo(req.version, req.forget ?? []);
  const stopped = await Promise.all((req.stop ?? []).map((id) => host.stop(id, true)));
  await Promise.all((req.restart ?? []).map((id) => host.stop(id)));
  const started = [];
  for (const id of req.restart ?? []) started.push(await host.start(id));
  const pruned = host.prune(req.keep ?? 5);
  return { previous, current: req.version, mode: host.mode, node: process.version, started, stopped, pruned };
}

async function main() {
  const req = await readStdin();
  if (!req.base) throw new Error('request without base');
  const host = new Host(req);
  switch (req.cmd) {
    case 'activate':
      return activate(req, host);
    case 'start': {
      const current = host.current();
      if (!current) throw new Error(`no release in ${host.base} yet (run god deploy)`);
      for (const p of req.processes ?? []) {
        // a process started outside a deploy runs (and reports) the current release
        host.writeSpec({ ...p, env: { ...p.env, FG_RELEASE: p.env?.FG_RELEASE ?? current } });
      }
      const ids = req.ids ?? (req.processes ?? []).map((p) => p.id);
      const started = [];
      for (const id of ids) if (!host.running(id)) started.push(await host.start(id));
      return { started, mode: host.mode };
    }
    case 'stop':
      return {
        stopped: await Promise.all(host.select(req).map((id) => host.stop(id, req.forget !== false))),
      };
    case 'restart': {
      const ids = host.select(req);
      await Promise.all(ids.map((id) => host.stop(id)));
      const started = [];
      for (const id of ids) started.push(await host.start(id));
      return { started, mode: host.mode };
    }
    case 'deactivate': {
      const stopped = await Promise.all((req.ids ?? []).map((id) => host.stop(id, true)));
      fs.rmSync(path.join(host.base, 'current'), { force: true });
      return { stopped };
    }
    case 'status':
      return host.status();
    default:
      throw new Error(`unknown command ${req.cmd}`);
  }
}

/** Run as a program (node fg-agent.mjs), not when imported (tests of unitText / envFileText). */
function isMain() {
  try {
    return fs.realpathSync(process.argv[1] ?? '') === fs.realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMain()) {
  main().then(
    (out) => process.stdout.write(`${JSON.stringify({ ok: true, ...out })}\n`),
    (err) => {
      process.stdout.write(`${JSON.stringify({ ok: false, error: err?.message ?? String(err) })}\n`);
      process.exit(1);
    },
  );
}
