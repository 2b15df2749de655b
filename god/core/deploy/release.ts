// The local side of a release: role bundles (dist/roles/*.mjs), the host agent and supervisor, and the pinned
// Node runtime they all run on (runtime.ts; fetched per host arch when a host lacks it).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Role } from '../../../protocol/redis-contract.ts';
import { UserError } from '../../../kernel/errors.ts';
import { RUNTIME_PIN, type RuntimePin } from './runtime.ts';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const DEFAULT_BUNDLE_DIR = path.join(REPO_ROOT, 'dist', 'roles');
const REMOTE_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'remote');
export const AGENT_FILE = 'fg-agent.mjs';
export const SUPERVISOR_FILE = 'fg-supervisor.mjs';

export interface ReleaseFile {
  name: string;
  localPath: string;
  sha256: string;
  bytes: number;
  /** the role this bundle runs, for role bundles */
  role?: Role;
}

export interface LocalRelease {
  version: string;
  dir: string;
  files: ReleaseFile[];
  byName: Map<string, ReleaseFile>;
  /** the Node every process of the release runs on */
  runtime: RuntimePin;
}

function fileEntry(name: string, localPath: string, role?: Role): ReleaseFile {
  const buf = fs.readFileSync(localPath);
  return { name, localPath, sha256: createHash('sha256').update(buf).digest('hex'), bytes: buf.length, role };
}

/** A version name must be a safe directory name on the host. */
export function checkVersion(v: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/.test(v)) {
    throw new UserError(`invalid release version "${v}"`, {
      code: 'GOD_DEPLOY_VERSION',
      hint: 'Use letters, digits, dot, dash, plus or underscore (e.g. 1.4.2 or 2026-11-22.1), at most 64 characters.',
    });
  }
  return v;
}

/** Run `npm run build` (scripts/build.mjs) to make dist/roles. */
export function buildBundles(env: NodeJS.ProcessEnv = process.env): void {
  const r = spawnSync(process.execPath, [path.join(REPO_ROOT, 'scripts', 'build.mjs')], {
    cwd: REPO_ROOT,
    env,
    encoding: 'utf8',
  });
  if (r.status !== 0) {
    throw new UserError(`building the role bundles failed:\n${(r.stderr || r.stdout).trim().slice(-2000)}`, {
      code: 'GOD_DEPLOY_BUILD',
      hint: 'Fix the build error (`npm run build` shows it), then deploy again.',
    });
  }
}

/**
 * Collect the release from `bundleDir` (default dist/roles, built when a needed bundle is missing or
 * `build` is set). The default version is the bundle's version plus a content hash, so the same
 * bundles always make the same release (a redeploy of unchanged code changes nothing).
 */
export function loadRelease(opts: {
  roles: Role[];
  /** bundles shipped when present (roles a host runs but this deploy does not restart) */
  optionalRoles?: Role[];
  bundleDir?: string;
  version?: string;
  build?: boolean;
  /** default: the project's pin (runtime-pin.json) */
  runtime?: RuntimePin;
}): LocalRelease {
  const runtime = opts.runtime ?? RUNTIME_PIN;
  const dir = opts.bundleDir ?? DEFAULT_BUNDLE_DIR;
  const missing = () => opts.roles.filter((r) => !fs.existsSync(path.join(dir, `${r}.mjs`)));
  if (opts.build || (missing().length && dir === DEFAULT_BUNDLE_DIR)) buildBundles();
  const gone = missing();
  if (gone.length) {
    throw new UserError(`no bundle for ${gone.join(', ')} in ${dir}`, {
      code: 'GOD_BUNDLE_MISSING',
      hint:
        dir === DEFAULT_BUNDLE_DIR
          ? `\`npm run build\` did not produce them: does roles/${gone[0]}/main.ts exist?`
          : `Build the bundles into ${dir} (or point --bundle-dir / GOD_BUNDLE_DIR elsewhere).`,
    });
  }
  const optional = (opts.optionalRoles ?? []).filter(
    (r) => !opts.roles.includes(r) && fs.existsSync(path.join(dir, `${r}.mjs`)),
  );
  const files: ReleaseFile[] = [...opts.roles, ...optional]
    .sort()
    .map((r) => fileEntry(`${r}.mjs`, path.join(dir, `${r}.mjs`), r));
  const manifest = path.join(dir, 'manifest.json');
  if (fs.existsSync(manifest)) files.push(fileEntry('manifest.json', manifest));
  files.push(fileEntry(AGENT_FILE, path.join(REMOTE_DIR, AGENT_FILE)));
  files.push(fileEntry(SUPERVISOR_FILE, path.join(REMOTE_DIR, SUPERVISOR_FILE)));
  let version = opts.version;
  if (!version) {
    let base = 'dev';
    try {
      base = JSON.parse(fs.readFileSync(manifest, 'utf8')).version ?? base;
    } catch {
      // no manifest: keep "dev"
    }
    const h = createHash('sha256');
    for (const f of files) h.update(`${f.name}:${f.sha256}\n`);
    // another runtime is another release (a rollback to it switches Node back)
    for (const [arch, a] of Object.entries(runtime.arches)) h.update(`node-${arch}:${a.integrity}\n`);
    version = `${base}-${h.digest('hex').slice(0, 10)}`;
  }
  checkVersion(version);
  return { version, dir, files, byName: new Map(files.map((f) => [f.name, f])), runtime };
}
