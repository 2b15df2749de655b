#!/usr/bin/env node
// Shipped with every release: does a host's side of a deploy in one SSH round trip. Plain Node, no dependencies.
// Runs on the release's own Node (releases/<v>/node → runtimes/<name>/bin/node), and so do the supervisors and
// the role processes it starts (process.execPath): switching `current` and restarting switches Node too.
// Reads one JSON request on stdin, prints one JSON result on stdout (exit 1 with {error} on failure).
// Roles never run as root: an agent running as root creates the fleet user (`run_as`, default filmgrain) on
// first use and runs every role as it; an agent running as another user runs them as that user.
// Folders under base: releases/, runtimes/ (root's, readable), run/ and logs/ (0700, the agent's: specs and
// env files hold secrets), state/<id>/ (0700, the fleet user's: the only place a role writes).
//   activate  {base, version, processes:[{role,id,env,port?,nofile?}], restart:[id], stop:[id], sums:{file:sha}, forget:[version], keep, mode}
//   (every request may carry run_as, log_bytes, log_files)
//   start     {base, processes?:[...], ids?:[id]}   start what is not running (writing specs given)
//   stop      {base, ids?:[id], role?}              stop (and forget) processes
//   restart   {base, ids?:[id], role?}
//   deactivate {base, ids:[id]}                     undo a first deploy: stop, drop `current`
//   status    {base}
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** supervisor mode: a role's log is rotated at this size, keeping this many files (the live one included) */
const LOG_BYTES = 10 * 1024 * 1024;
const LOG_FILES = 5;
export const DEFAULT_RUN_AS = 'filmgrain';
/** open files of a role (systemd LimitNOFILE): an endpoint gets its --max-clients above this */
export const NOFILE_MIN = 65_536;

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

/** Ports below this need CAP_NET_BIND_SERVICE (systemd grants it to such an endpoint, and nothing else). */
const PRIVILEGED_PORT = 1024;

/**
 * The unit of one role process: no secret in it (world-readable); they are in `envFile`. The role runs as the
 * fleet `user` in a read-only system with only its `stateDir` writable; output goes to journald (bounded by
 * journald's own limits). A unit needing another EnvironmentFile= adds it next to the first one.
 */
export function unitText({
  id,
  role,
  execPath,
  base,
  killMs,
  envFile,
  secretsFile,
  user,
  stateDir,
  port,
  nofile,
  writable = [],
}) {
  const paths = {
    id,
    role,
    execPath,
    base,
    envFile,
    user,
    stateDir,
    writable,
    ...(secretsFile ? { secretsFile } : {}),
  };
  for (const [k, v] of Object.entries(paths)) {
    if (/[\n\r\0]/.test(String(v))) throw new Error(`the ${k} of a unit contains a newline or NUL; refused`);
  }
  const lowPort = Number.isInteger(port) && port > 0 && port < PRIVILEGED_PORT;
  return [
    '[Unit]',
    `Description=Filmgrain ${unitPath(role)} ${unitPath(id)}`,
    'After=network-online.target',
    'Wants=network-online.target',
    // Restart=on-failure gives up after 5 failed starts in 2 minutes (then `god restart` or a deploy starts it)
    'StartLimitIntervalSec=120',
    'StartLimitBurst=5',
    '[Service]',
    `ExecStart=${unitArg(execPath)} ${unitArg(path.join(base, 'current', `${role}.mjs`))}`,
    `WorkingDirectory=${unitPath(stateDir)}`,
    `EnvironmentFile=${unitPath(envFile)}`,
    // the config's secrets (god/core/secrets): a file of their own, 0600 like envFile
    ...(secretsFile ? [`EnvironmentFile=${unitPath(secretsFile)}`] : []),
    `User=${user}`,
    `Group=${user}`,
    'Restart=on-failure',
    'RestartSec=1',
    `TimeoutStopSec=${Math.ceil(killMs / 1000)}`,
    `LimitNOFILE=${Math.max(NOFILE_MIN, Number(nofile) || 0)}`,
    'StandardOutput=journal',
    'StandardError=journal',
    `SyslogIdentifier=fg-${unitPath(id)}`,
    'UMask=0077',
    // the role's code and runtime are read-only to it; it writes only its state folder
    'ProtectSystem=strict',
    `ReadWritePaths=${[stateDir, ...writable].map(unitArg).join(' ')}`,
    'ProtectHome=yes',
    'PrivateTmp=yes',
    'PrivateDevices=yes',
    'PrivateMounts=yes',
    'NoNewPrivileges=yes',
    ...(lowPort
      ? ['AmbientCapabilities=CAP_NET_BIND_SERVICE', 'CapabilityBoundingSet=CAP_NET_BIND_SERVICE']
      : ['CapabilityBoundingSet=', 'PrivateUsers=yes']),
    'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX',
    'RestrictNamespaces=yes',
    'RestrictRealtime=yes',
    'RestrictSUIDSGID=yes',
    'LockPersonality=yes',
    'RemoveIPC=yes',
    'ProtectKernelTunables=yes',
    'ProtectKernelModules=yes',
    'ProtectKernelLogs=yes',
    'ProtectControlGroups=yes',
    'ProtectClock=yes',
    'ProtectHostname=yes',
    'ProtectProc=invisible',
    'SystemCallArchitectures=native',
    'SystemCallFilter=@system-service',
    'SystemCallFilter=~@privileged',
    'SystemCallErrorNumber=EPERM',
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

const USER_NAME = /^[a-z_][a-z0-9_-]{0,31}$/;

/** uid, gid of `name` from the user database (getent: NSS too; /etc/passwd where there is no getent). */
/**
 * Where a keeper spooled before roles ran as the fleet user: root's default (`$XDG_STATE_HOME`, else
 * `~/.local/state`, then filmgrain/spool/<id>, as roles/keeper/spool.ts computes it for root).
 */
export function legacySpoolDir(id, env = process.env, home = os.homedir()) {
  const base = env.XDG_STATE_HOME ? env.XDG_STATE_HOME : path.join(home, '.local', 'state');
  return path.join(base, 'filmgrain', 'spool', id);
}

/**
 * Move a keeper's spooled objects from `from` (the release that ran it as root) into `to` (its spool under
 * state/<id>, the fleet user's), so that upgrading never strands an outage's log lines where the keeper no
 * longer looks. A file already at `to` is kept and the old copy left in place (never overwritten); the
 * folder `to` is created 0700 for `owner` ({uid, gid}) and each moved file is chowned. Returns how many
 * files moved and how many were left behind.
 */
export function adoptLegacySpool(from, to, owner) {
  let names;
  try {
    if (!fs.lstatSync(from).isDirectory()) return { moved: 0, left: 0 };
    names = fs.readdirSync(from);
  } catch {
    return { moved: 0, left: 0 };
  }
  const files = names.filter((n) => !n.endsWith('.tmp') && fs.lstatSync(path.join(from, n)).isFile());
  if (!files.length) return { moved: 0, left: 0 };
  fs.mkdirSync(to, { recursive: true, mode: 0o700 });
  for (let d = to; d.length > 1 && owner; d = path.dirname(d)) {
    // the spool's folders below state/<id>: the fleet user's (state/<id> itself already is)
    const st = fs.lstatSync(d);
    if (st.uid === owner.uid) break;
    fs.chownSync(d, owner.uid, owner.gid);
    if (path.basename(path.dirname(d)) === 'state') break;
  }
  let moved = 0;
  let left = 0;
  for (const name of files) {
    const src = path.join(from, name);
    const dst = path.join(to, name);
    if (fs.existsSync(dst)) {
      left++;
      continue;
    }
    try {
      fs.renameSync(src, dst);
    } catch (err) {
      if (err.code !== 'EXDEV') throw err;
      // another file system (base_dir on its own volume): copy, then remove the old one
      fs.copyFileSync(src, dst, fs.constants.COPYFILE_EXCL);
      fs.rmSync(src);
    }
    fs.chmodSync(dst, 0o600);
    if (owner) fs.chownSync(dst, owner.uid, owner.gid);
    moved++;
  }
  if (!left) fs.rmSync(from, { recursive: true, force: true });
  return { moved, left };
}

export function lookupUser(name) {
  let line;
  try {
    line = execFileSync('getent', ['passwd', name], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
  } catch (err) {
    if (err.code !== 'ENOENT') return undefined; // exit 2: no such user
    line = fs
      .readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .find((l) => l.startsWith(`${name}:`));
  }
  const f = (line ?? '').trim().split(':');
  if (f[0] !== name) return undefined;
  return { name, uid: Number(f[2]), gid: Number(f[3]) };
}

function tryRun(cmd, args) {
  try {
    execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
    return '';
  } catch (err) {
    return err.code === 'ENOENT' ? `${cmd} not found` : String(err.stderr || err.message).trim();
  }
}

/**
 * The fleet user, created when missing (a system user with its own group, no home, no login shell).
 * Idempotent, and safe when two agents on one host race (the loser finds the winner's user).
 */
export async function ensureUser(name, home) {
  if (!USER_NAME.test(name ?? '')) {
    throw new Error(
      `the fleet user name ${JSON.stringify(name)} is not valid (lowercase letters, digits, _ and -)`,
    );
  }
  let u = lookupUser(name);
  const tried = [];
  for (let i = 0; !u && i < 10; i++) {
    const shell =
      ['/usr/sbin/nologin', '/sbin/nologin', '/bin/false'].find((f) => fs.existsSync(f)) ?? '/bin/false';
    const why =
      tryRun('useradd', [
        '--system',
        '--user-group',
        '--no-create-home',
        '--home-dir',
        home,
        '--shell',
        shell,
        name,
      ]) &&
      // busybox (Alpine): adduser makes the group of the same name
      tryRun('adduser', ['-S', '-D', '-H', '-h', home, '-s', shell, name]);
    u = lookupUser(name);
    if (!u && why) tried.push(why);
    if (!u) await sleep(100 + 100 * i); // /etc/passwd locked by a concurrent useradd
  }
  if (!u) {
    throw new Error(
      `could not create the fleet user ${name} (${tried.at(-1) ?? 'unknown error'}); create it (useradd --system --user-group --no-create-home --shell /usr/sbin/nologin ${name}) and deploy again`,
    );
  }
  if (u.uid === 0 || u.gid === 0) {
    throw new Error(
      `the fleet user ${name} is root (uid ${u.uid}, gid ${u.gid}); roles never run as root: set ssh.run_as to another user`,
    );
  }
  return u;
}

/** Whether `u` may enter `dir` (its own folder, its group's, or one open to others). */
function canEnter(st, u) {
  if (st.uid === u.uid) return (st.mode & 0o100) !== 0;
  if (st.gid === u.gid) return (st.mode & 0o010) !== 0;
  return (st.mode & 0o001) !== 0;
}

/** Every folder from / to `dir` must be enterable by the fleet user, or the roles cannot read their release. */
function checkReachable(dir, u) {
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    const st = fs.statSync(d);
    if (!canEnter(st, u)) {
      throw new Error(
        `the fleet user ${u.name} cannot enter ${d} (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}, owner uid ${st.uid}), so its roles cannot read ${dir}; make it enterable (chmod o+x ${d}) or choose a base_dir it can reach`,
      );
    }
    if (d === path.dirname(d)) return;
  }
}

/** Folders the hardened unit hides from the role (PrivateTmp=, ProtectHome=): base_dir cannot be there. */
const HIDDEN_FROM_UNITS = ['/tmp', '/var/tmp', '/home', '/root', '/run/user'];

/** The code of a release and its runtime: the fleet user reads and runs it, only root changes it. */
function shareRead(file) {
  try {
    const st = fs.lstatSync(file);
    if (st.isSymbolicLink()) return;
    const want = st.isDirectory() || st.mode & 0o100 ? st.mode | 0o555 : st.mode | 0o444;
    if ((st.mode & 0o7777) !== (want & 0o7777)) fs.chmodSync(file, want & 0o7777);
  } catch {
    // gone: checked where it is used
  }
}

class Host {
  constructor(req) {
    this.base = req.base;
    this.run = path.join(this.base, 'run');
    this.logs = path.join(this.base, 'logs');
    this.states = path.join(this.base, 'state');
    // specs and env files hold secrets, logs may: only the agent's user (root under systemd) reads them
    privateDir(this.run);
    privateDir(this.logs);
    this.mode = req.mode === 'supervisor' || req.mode === 'systemd' ? req.mode : this.detectMode();
    this.killMs = Number(req.kill_ms ?? 15_000);
    this.runAs = req.run_as ?? DEFAULT_RUN_AS;
    this.logBytes = Number(req.log_bytes ?? LOG_BYTES);
    this.logFiles = Math.max(1, Number(req.log_files ?? LOG_FILES));
  }

  /**
   * Who the roles run as: the fleet user (created on first use) when we are root, else ourselves (we cannot
   * switch users, and are not root). `drop`: the supervisor / systemd switches to it.
   */
  async user() {
    if (this._user) return this._user;
    if (process.getuid?.() !== 0) {
      const me = os.userInfo();
      this._user = { name: me.username, uid: me.uid, gid: me.gid, drop: false };
    } else {
      const u = await ensureUser(this.runAs, '/nonexistent');
      // base_dir made by `mkdir -p` under a umask of 077: ours, so open it to enter (not to list)
      const st = fs.statSync(this.base);
      if (st.uid === 0 && !(st.mode & 0o001)) fs.chmodSync(this.base, (st.mode & 0o7777) | 0o001);
      checkReachable(this.base, u);
      this._user = { ...u, drop: true };
    }
    return this._user;
  }

  /** state/<id>: the role's own folder (HOME, XDG_STATE_HOME: the keeper's spool), the fleet user's, 0700. */
  async stateDir(id) {
    const u = await this.user();
    fs.mkdirSync(this.states, { recursive: true, mode: 0o755 });
    if (u.drop) fs.chmodSync(this.states, 0o755);
    const dir = path.join(this.states, id);
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = fs.lstatSync(dir);
    if (!st.isDirectory()) throw new Error(`${dir} is not a folder; remove it and deploy again`);
    if (u.drop && (st.uid !== u.uid || st.gid !== u.gid)) fs.chownSync(dir, u.uid, u.gid);
    fs.chmodSync(dir, 0o700);
    return dir;
  }

  /**
   * The other folders a role writes (its options name them: a file:// archive, a spool): created for the fleet
   * user when missing, left as they are when they exist (the operator's), reachable either way.
   */
  async writable(spec) {
    const u = await this.user();
    const dirs = (spec.writable ?? []).filter((d) => typeof d === 'string' && path.isAbsolute(d));
    for (const d of dirs) {
      if (!fs.existsSync(d)) {
        fs.mkdirSync(path.dirname(d), { recursive: true, mode: 0o755 });
        fs.mkdirSync(d, { mode: 0o700 });
        if (u.drop) fs.chownSync(d, u.uid, u.gid);
      }
      if (u.drop) checkReachable(d, u);
    }
    return dirs;
  }

  /** Refuse what a role could not do here before anything changes (a low port needs systemd's capability). */
  check(spec) {
    const port = Number(spec.port);
    if (this.mode === 'supervisor' && Number.isInteger(port) && port > 0 && port < PRIVILEGED_PORT) {
      throw new Error(
        `${spec.id} listens on port ${port}, below ${PRIVILEGED_PORT}: roles never run as root, and only systemd mode grants an endpoint CAP_NET_BIND_SERVICE (AmbientCapabilities=); use a port of ${PRIVILEGED_PORT} or more (with a load balancer or a port redirect in front) or deploy with --mode systemd on a host with systemd`,
      );
    }
    if (this.mode === 'systemd') {
      const hidden = HIDDEN_FROM_UNITS.find((d) => this.base === d || this.base.startsWith(`${d}/`));
      if (hidden) {
        throw new Error(
          `base_dir ${this.base} is under ${hidden}, which the hardened units hide from the roles (PrivateTmp=, ProtectHome=); choose a base_dir such as /opt/filmgrain`,
        );
      }
    }
  }

  /** The release's files and its runtime: readable by the fleet user whatever the SSH session's umask was. */
  shareRelease(version) {
    const rel = path.join(this.base, 'releases', version);
    for (const d of [path.join(this.base, 'releases'), rel, path.join(this.base, 'runtimes')]) shareRead(d);
    for (const f of fs.readdirSync(rel)) shareRead(path.join(rel, f));
    try {
      const bin = path.dirname(fs.realpathSync(path.join(rel, 'node')));
      for (const d of [path.dirname(bin), bin, path.join(bin, 'node')]) shareRead(d);
    } catch {
      // no runtime link: the agent would not be running
    }
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
  /**
   * The spec without its secret values (`secret_env`): those go only into run/<id>.secrets.env (0600), which
   * systemd reads as a second EnvironmentFile= and the supervisor reads before dropping privileges. The spec
   * keeps `secrets_sha` (God's digest) so a deploy sees when they change. A spec without them removes the file.
   */
  writeSpec(p) {
    const { secret_env: secrets, ...stored } = p;
    writePrivate(this.specFile(p.id), JSON.stringify(stored));
    if (secrets && Object.keys(secrets).length) writePrivate(this.secretsFile(p.id), envFileText(secrets));
    else fs.rmSync(this.secretsFile(p.id), { force: true });
  }
  envFile(id) {
    return path.join(this.run, `${id}.env`);
  }
  secretsFile(id) {
    return path.join(this.run, `${id}.secrets.env`);
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
    this.check(spec);
    const u = await this.user();
    const state = await this.stateDir(id);
    const writable = await this.writable(spec);
    // the role's home is its own folder: the keeper's default spool lands there, nothing writes elsewhere
    const home = { HOME: state, XDG_STATE_HOME: state, USER: u.name, LOGNAME: u.name };
    const adopted =
      spec.role === 'keeper' && !spec.env?.FG_KEEPER_SPOOL_DIR
        ? adoptLegacySpool(
            legacySpoolDir(id),
            path.join(state, 'filmgrain', 'spool', id),
            u.drop ? u : undefined,
          )
        : undefined;
    if (this.mode === 'systemd') {
      // secrets in a 0600 root-owned EnvironmentFile, not in Environment= lines of a world-readable unit
      writePrivate(this.envFile(id), envFileText({ ...spec.env, ...home }));
      const unit = unitText({
        id,
        role: spec.role,
        execPath: process.execPath,
        base: this.base,
        killMs: this.killMs,
        envFile: this.envFile(id),
        secretsFile: fs.existsSync(this.secretsFile(id)) ? this.secretsFile(id) : undefined,
        user: u.name,
        stateDir: state,
        port: spec.port,
        nofile: spec.nofile,
        writable,
      });
      fs.writeFileSync(`/etc/systemd/system/${this.unit(id)}`, unit);
      execFileSync('systemctl', ['daemon-reload']);
      execFileSync('systemctl', ['enable', this.unit(id)], { stdio: 'ignore' });
      // a unit that hit its start limit stays failed until reset: a deploy or restart means "try again"
      try {
        execFileSync('systemctl', ['reset-failed', this.unit(id)], { stdio: 'ignore' });
      } catch {
        // not failed
      }
      execFileSync('systemctl', ['restart', this.unit(id)]);
      return {
        id,
        unit: this.unit(id),
        user: u.name,
        ...(adopted?.moved || adopted?.left ? { spool: adopted } : {}),
      };
    }
    const sup = path.join(this.base, 'current', 'fg-supervisor.mjs');
    // the supervisor stays root (like systemd) to keep the logs and specs out of the role's reach; it runs the
    // role as the fleet user. Own session: survives the SSH session, gets no SIGHUP when it ends.
    const opts = {
      kill_ms: this.killMs,
      log: path.join(this.logs, `${id}.log`),
      log_bytes: this.logBytes,
      log_files: this.logFiles,
      cwd: state,
      env: home,
      ...(u.drop ? { uid: u.uid, gid: u.gid } : {}),
    };
    const child = spawn(process.execPath, [sup, this.base, id], {
      cwd: this.base,
      detached: true,
      stdio: 'ignore',
      env: { ...process.env, FG_SUPERVISOR: JSON.stringify(opts) },
    });
    child.unref();
    fs.writeFileSync(path.join(this.run, `${id}.pid`), String(child.pid));
    return {
      id,
      pid: child.pid,
      user: u.name,
      ...(adopted?.moved || adopted?.left ? { spool: adopted } : {}),
    };
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
      fs.rmSync(this.secretsFile(id), { force: true });
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
  for (const p of req.processes ?? []) host.check(p);
  host.shareRelease(req.version);
  for (const p of req.processes ?? []) host.writeSpec(p);
  const previous = host.current();
  host.switchTo(req.version, req.forget ?? []);
  const stopped = await Promise.all((req.stop ?? []).map((id) => host.stop(id, true)));
  await Promise.all((req.restart ?? []).map((id) => host.stop(id)));
  const started = [];
  for (const id of req.restart ?? []) started.push(await host.start(id));
  const pruned = host.prune(req.keep ?? 5);
  const user = started.length ? (await host.user()).name : undefined;
  return {
    previous,
    current: req.version,
    mode: host.mode,
    node: process.version,
    user,
    started,
    stopped,
    pruned,
  };
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
      for (const p of req.processes ?? []) host.check(p);
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
