#!/usr/bin/env node
// Bootstrap for `npm test` / `npm run demo`. Plain Node, no dependencies: it runs before
// node_modules exists.
//
//   node scripts/bootstrap.mjs demo|test
//
// 1. `npm ci` when node_modules is missing or out of date with package-lock.json (the lock's hash
//    is kept in node_modules/.bootstrap-stamp).
// 2. For `test`: the pinned Node runtime the releases ship (god/core/deploy/runtime-pin.json) in God's cache,
//    fetched once with npm and verified, so that `npm test` can run the suites on it (scripts/pinned-node.mjs).
// 3. Checks the system tools: redis-server (both modes); for `test` also redis-sentinel, sshd, ssh-keygen, openssl,
//    tmux, systemd-analyze (package systemd), prometheus + promtool and moto_server. Missing ones are installed with apt-get / pip when we are root (or have
//    password-less sudo) and FG_NO_INSTALL is not 1; otherwise it says exactly what to install and
//    exits 1. Silent and fast when everything is in place.

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { archOf, ensureRuntime, loadPin } from '../god/core/deploy/runtime-cache.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const LOCK = path.join(ROOT, 'package-lock.json');
const NODE_MODULES = path.join(ROOT, 'node_modules');
const STAMP = path.join(NODE_MODULES, '.bootstrap-stamp');
const NO_INSTALL = process.env.FG_NO_INSTALL === '1';

const say = (msg) => console.error(`bootstrap: ${msg}`);
const fail = (msg) => {
  say(msg);
  process.exit(1);
};

const mode = process.argv[2];
if (mode !== 'demo' && mode !== 'test') {
  fail('usage: node scripts/bootstrap.mjs demo|test');
}

const major = Number(process.versions.node.split('.')[0]);
if (major < 20) fail(`Node ${process.versions.node} is too old: install Node 20 or newer.`);

// ---------------------------------------------------------------- node_modules

function lockHash() {
  return createHash('sha256').update(fs.readFileSync(LOCK)).digest('hex');
}

/** Does npm's own record of what is installed (node_modules/.package-lock.json) match the lock? */
function installedMatchesLock() {
  let lock;
  let hidden;
  try {
    lock = JSON.parse(fs.readFileSync(LOCK, 'utf8'));
    hidden = JSON.parse(fs.readFileSync(path.join(NODE_MODULES, '.package-lock.json'), 'utf8'));
  } catch {
    return false;
  }
  const want = lock.packages ?? {};
  const have = hidden.packages ?? {};
  for (const [key, meta] of Object.entries(want)) {
    if (key === '' || !key.startsWith('node_modules/')) continue;
    const got = have[key];
    if (!got) {
      if (meta.optional || meta.peer) continue; // platform-specific optional deps are skipped by npm
      return false;
    }
    if (meta.version && got.version !== meta.version) return false;
  }
  return true;
}

function ensureNodeModules() {
  if (!fs.existsSync(LOCK))
    fail('package-lock.json is missing: run `npm install` once and commit the lock file.');
  const hash = lockHash();
  let reason;
  if (!fs.existsSync(NODE_MODULES)) reason = 'node_modules is missing';
  else {
    let stamp = '';
    try {
      stamp = fs.readFileSync(STAMP, 'utf8').trim();
    } catch {
      // no stamp yet
    }
    if (stamp === hash) return;
    if (installedMatchesLock()) {
      fs.writeFileSync(STAMP, `${hash}\n`);
      return;
    }
    reason = 'node_modules is out of date with package-lock.json';
  }
  say(`${reason}: running npm ci`);
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const r = spawnSync(npm, ['ci', '--no-audit', '--no-fund', '--loglevel=warn'], {
    cwd: ROOT,
    stdio: 'inherit',
  });
  if (r.error || r.status !== 0) fail('npm ci failed (see above). Fix it, then run the command again.');
  fs.mkdirSync(NODE_MODULES, { recursive: true });
  fs.writeFileSync(STAMP, `${hash}\n`);
}

// ---------------------------------------------------------------- system tools

function onPath(cmd) {
  if (cmd.includes('/')) return isExecutable(cmd) ? cmd : undefined;
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const p = path.join(dir, cmd);
    if (isExecutable(p)) return p;
  }
  return undefined;
}

function isExecutable(p) {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

/** tool -> how it is found and which package brings it */
const TOOLS = {
  'redis-server': { find: () => onPath('redis-server'), apt: 'redis-server' },
  sshd: { find: () => onPath('/usr/sbin/sshd'), apt: 'openssh-server' },
  'ssh-keygen': { find: () => onPath('ssh-keygen'), apt: 'openssh-client' },
  openssl: { find: () => onPath('openssl'), apt: 'openssl' },
  // the dashboard's real-terminal test drives the demo inside tmux
  tmux: { find: () => onPath('tmux'), apt: 'tmux' },
  // the deploy tests check every unit God writes with `systemd-analyze verify` / `security` (no running systemd needed)
  'systemd-analyze': { find: () => onPath('systemd-analyze'), apt: 'systemd' },
  moto_server: { find: () => onPath('moto_server'), pip: 'moto[server]' },
  // Redis failover tests run real sentinels (issue 16)
  'redis-sentinel': { find: () => onPath('redis-sentinel'), apt: 'redis-sentinel' },
  // the metrics tests scrape a running fleet with a real Prometheus and lint rules/metrics with promtool
  prometheus: { find: () => onPath('prometheus'), apt: 'prometheus' },
  promtool: { find: () => onPath('promtool'), apt: 'prometheus' },
};

const wanted =
  mode === 'demo'
    ? ['redis-server']
    : [
        'redis-server',
        'redis-sentinel',
        'sshd',
        'ssh-keygen',
        'openssl',
        'tmux',
        'systemd-analyze',
        'moto_server',
        'prometheus',
        'promtool',
      ];

function run(cmd, args, opts = {}) {
  return spawnSync(cmd, args, { encoding: 'utf8', ...opts });
}

function showTail(r) {
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n').slice(-15).join('\n');
  if (out) console.error(out);
}

/** [] when root, ['sudo', '-n'] when password-less sudo works, undefined otherwise. */
function privilegePrefix() {
  if (typeof process.getuid === 'function' && process.getuid() === 0) return [];
  if (onPath('sudo') && run('sudo', ['-n', 'true']).status === 0) return ['sudo', '-n'];
  return undefined;
}

function aptInstall(pkgs) {
  const prefix = privilegePrefix();
  if (!onPath('apt-get') || prefix === undefined) return false;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const exec = (args) => {
    const [cmd, ...rest] = [...prefix, ...args];
    return run(cmd, rest, { env });
  };
  say('apt-get update');
  const up = exec(['apt-get', 'update', '-qq']);
  if (up.status !== 0) {
    showTail(up);
    return false;
  }
  say(`apt-get install -y ${pkgs.join(' ')}`);
  const inst = exec(['apt-get', 'install', '-y', '-qq', '--no-install-recommends', ...pkgs]);
  if (inst.status !== 0) {
    showTail(inst);
    return false;
  }
  return true;
}

function pipCommand() {
  for (const [cmd, args] of [
    ['pip', []],
    ['pip3', []],
    ['python3', ['-m', 'pip']],
  ]) {
    if (!onPath(cmd)) continue;
    if (run(cmd, [...args, '--version']).status === 0) return [cmd, ...args];
  }
  return undefined;
}

function pipInstall(spec) {
  const pip = pipCommand();
  if (!pip) return false;
  say(`${pip.join(' ')} install '${spec}'`);
  const r = run(pip[0], [...pip.slice(1), 'install', '--quiet', spec]);
  if (r.status !== 0) {
    showTail(r);
    return false;
  }
  if (onPath('pyenv')) run('pyenv', ['rehash']);
  return true;
}

function howTo(missing) {
  const apt = [...new Set(missing.map((t) => TOOLS[t].apt).filter(Boolean))];
  const pip = [...new Set(missing.map((t) => TOOLS[t].pip).filter(Boolean))];
  const lines = [];
  if (apt.length) lines.push(`  apt-get install -y ${apt.join(' ')}`);
  if (pip.length) {
    const specs = pip.map((p) => `'${p}'`).join(' ');
    lines.push(`  pip install ${specs}`);
    lines.push(`  (where pip refuses with "externally-managed-environment": pipx install ${specs})`);
  }
  return lines.join('\n');
}

function ensureTools() {
  let missing = wanted.filter((t) => !TOOLS[t].find());
  if (!missing.length) return;
  say(`missing: ${missing.join(', ')}`);
  if (NO_INSTALL) fail(`FG_NO_INSTALL=1, so not installing. Install them yourself:\n${howTo(missing)}`);

  let aptPkgs = [...new Set(missing.map((t) => TOOLS[t].apt).filter(Boolean))];
  // openssh-server pulls in openssh-client (ssh-keygen)
  if (aptPkgs.includes('openssh-server')) aptPkgs = aptPkgs.filter((p) => p !== 'openssh-client');
  if (aptPkgs.length) aptInstall(aptPkgs);
  for (const t of missing) {
    if (TOOLS[t].pip && !TOOLS[t].find()) pipInstall(TOOLS[t].pip);
  }

  missing = wanted.filter((t) => !TOOLS[t].find());
  if (missing.length) {
    const why =
      privilegePrefix() === undefined && missing.some((t) => TOOLS[t].apt)
        ? ' (automatic install needs root or password-less sudo, and apt-get)'
        : '';
    fail(`still missing: ${missing.join(', ')}${why}. Install them:\n${howTo(missing)}`);
  }
  say('all tools installed');
}

// ---------------------------------------------------------------- the pinned runtime

async function ensurePinnedRuntime() {
  const arch = archOf(process.arch);
  if (process.platform !== 'linux' || !arch) return; // pinned-node.mjs says so and skips
  try {
    await ensureRuntime(loadPin(), arch, { log: say });
  } catch (err) {
    fail(`${err.message}${err.hint ? `\n  ${err.hint}` : ''}`);
  }
}

ensureNodeModules();
ensureTools();
if (mode === 'test') await ensurePinnedRuntime();
