// One host's side of a deploy: plan against its state, upload what changed (the runtime once per host),
// activate (link the release to its runtime, switch + restart).
import { createHash } from 'node:crypto';
import path from 'node:path';
import type { Role } from '../../../protocol/redis-contract.ts';
import { UserError } from '../../../kernel/errors.ts';
import { parseArchiveUrl } from '../../../protocol/archive-target.ts';
import { endpointOptions, feederOptions, keeperOptions } from '../../../roles/options.ts';
import { formatBytes } from '../../../kernel/units.ts';
import { type SshConnection, shq } from '../ssh/connection.ts';
import { AGENT_FILE, type LocalRelease, type ReleaseFile, SUPERVISOR_FILE } from './release.ts';
import type { RemoteState } from './remote-state.ts';
import { type CachedRuntime, hostArch, integrityHex, type RuntimeArch, runtimeName } from './runtime.ts';
import { type DeployHost, type ProcessMode, type ProcessSpec, RUN_AS_DEFAULT } from './types.ts';

export interface HostPlan {
  version: string;
  previous: string | null;
  /** file name → sha256 of the complete release on the host */
  sums: Record<string, string>;
  upload: ReleaseFile[];
  /** [remote source relative to base_dir, file name] */
  reuse: Array<[string, string]>;
  unchanged: string[];
  /** process specs written on the host */
  processes: HostSpec[];
  restart: string[];
  stop: string[];
  /** the Node the release runs on here; `install` when the host lacks it */
  runtime: { name: string; version: string; arch: RuntimeArch; install: boolean; bytes: number };
  /** nothing to do on this host */
  noop: boolean;
}

/** A host's releases/, runtimes/ and logs/ share base_dir: refuse an upload that cannot fit, naming what it needs. */
function checkDisk(host: DeployHost, st: RemoteState, plan: HostPlan, unpacked: number): void {
  const need =
    plan.upload.reduce((a, f) => a + f.bytes, 0) + (plan.runtime.install ? plan.runtime.bytes + unpacked : 0);
  if (st.freeKiB === undefined || need === 0 || st.freeKiB * 1024 >= need) return;
  const what = plan.runtime.install
    ? `the runtime ${plan.runtime.name} needs ${formatBytes(plan.runtime.bytes + unpacked)} (${formatBytes(plan.runtime.bytes)} download, ${formatBytes(unpacked)} unpacked)${need > plan.runtime.bytes + unpacked ? ` and the bundles ${formatBytes(need - plan.runtime.bytes - unpacked)}` : ''}`
    : `the bundles need ${formatBytes(need)}`;
  throw new UserError(
    `not enough disk space on ${host.name} for release ${plan.version}: ${what}, but ${host.baseDir} has ${formatBytes(st.freeKiB * 1024)} free`,
    {
      code: 'GOD_DEPLOY_DISK',
      hint: `Free at least ${formatBytes(need - st.freeKiB * 1024)} on ${host.name} (old files in ${host.baseDir}/logs, other data) or give it a bigger disk, then deploy again.`,
    },
  );
}

/**
 * What the host agent is told about one process: its env, and for an endpoint the port it binds (a port below
 * 1024 gets CAP_NET_BIND_SERVICE under systemd, and is refused by the supervisor) and the open files its
 * --max-clients needs (LimitNOFILE).
 */
export interface HostSpec {
  role: Role;
  id: string;
  env: Record<string, string>;
  port?: number;
  nofile?: number;
  /** absolute folders its options name for it to write, besides its state folder (ReadWritePaths=) */
  writable?: string[];
  /** digest of `secret_env`, kept in the host's spec file: a changed secret restarts the process */
  secrets_sha?: string;
  /** the config's secrets (god/core/secrets): the agent writes them only to run/<id>.secrets.env (0600) */
  secret_env?: Record<string, string>;
}

/** The spec as the agent stores it in run/<id>.json (what `readState` reads back): without secret values. */
export function storedSpec(spec: HostSpec): string {
  const { secret_env: _, ...stored } = spec;
  return JSON.stringify(stored);
}

/** A digest of a process's secrets, salted with its id (the values never leave the env file in clear). */
function secretsSha(id: string, secrets: Record<string, string>): string {
  const h = createHash('sha256').update(`fg-secrets\0${id}`);
  for (const k of Object.keys(secrets).sort()) h.update(`\0${k}=${secrets[k]}`);
  return h.digest('hex');
}

/**
 * Options naming where a role writes: the keeper's file:// archive and spool folder, the feeder's --record
 * file (its folder). A relative path lands in the role's working directory, its state folder.
 */
const WRITES: Array<{ env: string; folder: (v: string) => string | undefined }> = [
  {
    env: keeperOptions.archive.env,
    folder: (v) => {
      const t = v.startsWith('file://') ? parseArchiveUrl(v) : undefined;
      return t?.kind === 'file' ? t.dir : undefined;
    },
  },
  { env: keeperOptions.spoolDir.env, folder: (v) => v },
  { env: feederOptions.record.env, folder: (v) => path.posix.dirname(v) },
];

function writableOf(env: Record<string, string>): string[] {
  const dirs = WRITES.map((w) => (env[w.env] ? w.folder(env[w.env]!) : undefined));
  return [...new Set(dirs.filter((d): d is string => !!d && path.posix.isAbsolute(d)))];
}

/** open files per client (its socket) plus what the process needs besides (Redis, logs, the runtime) */
const NOFILE_SPARE = 4096;

/** Without `version` (`god up`), the agent adds FG_RELEASE: the host's current release. */
export function specFor(p: ProcessSpec, version?: string): HostSpec {
  const env = { ...p.env, FG_ID: p.id, ...(version ? { FG_RELEASE: version } : {}) };
  const spec: HostSpec = { role: p.role, id: p.id, env };
  if (p.secretEnv) spec.secrets_sha = secretsSha(p.id, p.secretEnv);
  const writable = writableOf(p.env);
  if (writable.length) spec.writable = writable;
  if (p.endpoint) {
    spec.port = p.endpoint.port;
    const max = endpointOptions.maxClients;
    spec.nofile = Number(p.env[max.env] ?? max.default) + NOFILE_SPARE;
  }
  if (p.secretEnv) spec.secret_env = p.secretEnv;
  return spec;
}

export function planHost(
  host: DeployHost,
  st: RemoteState,
  release: LocalRelease,
  roles: Role[] | undefined,
): HostPlan {
  const version = release.version;
  const arch = hostArch(host.name, st.machine, release.runtime);
  const pinned = release.runtime.arches[arch]!;
  const rtName = runtimeName(release.runtime, arch);
  const hostRoles = [...new Set(host.processes.map((p) => p.role))];
  const deploying = (r: Role) => !roles || roles.includes(r);
  const currentSums = st.current ? st.releases.get(st.current) : undefined;
  const want = new Map<string, { sha: string; file?: ReleaseFile }>();
  for (const f of [AGENT_FILE, SUPERVISOR_FILE, 'manifest.json']) {
    const rf = release.byName.get(f);
    if (rf) want.set(f, { sha: rf.sha256, file: rf });
  }
  for (const r of hostRoles) {
    const name = `${r}.mjs`;
    const rf = release.byName.get(name);
    // a role left out of --roles keeps the code it runs now
    const keep = !deploying(r) ? currentSums?.get(name) : undefined;
    if (keep) want.set(name, { sha: keep });
    else if (rf) want.set(name, { sha: rf.sha256, file: rf });
  }
  const bySha = new Map<string, string>();
  for (const [rel, files] of st.releases)
    for (const [name, sha] of files) bySha.set(sha, `releases/${rel}/${name}`);
  const plan: HostPlan = {
    version,
    previous: st.current,
    sums: {},
    upload: [],
    reuse: [],
    unchanged: [],
    processes: [],
    restart: [],
    stop: [],
    runtime: {
      name: rtName,
      version: release.runtime.version,
      arch,
      install: !st.runtimes.has(rtName),
      bytes: pinned.bytes,
    },
    noop: false,
  };
  for (const [name, w] of want) {
    plan.sums[name] = w.sha;
    if (st.target.get(name) === w.sha) plan.unchanged.push(name);
    else if (bySha.has(w.sha)) plan.reuse.push([bySha.get(w.sha)!, name]);
    else if (w.file) plan.upload.push(w.file);
    else throw new Error(`no source for ${name} on ${host.name}`);
  }
  checkDisk(host, st, plan, pinned.node_bytes);
  const filesChanged =
    plan.upload.length > 0 ||
    plan.reuse.length > 0 ||
    st.current !== version ||
    st.runtimeOf.get(version) !== rtName;
  for (const p of host.processes) {
    if (!deploying(p.role)) continue;
    const spec = specFor(p, version);
    plan.processes.push(spec);
    const same = st.specs.get(p.id) === storedSpec(spec);
    if (filesChanged || !same || !st.alive.has(p.id)) plan.restart.push(p.id);
  }
  const wanted = new Set(host.processes.map((p) => p.id));
  for (const [id, text] of st.specs) {
    if (wanted.has(id)) continue;
    let role: Role | undefined;
    try {
      role = JSON.parse(text).role;
    } catch {
      // unreadable spec: ours to clean up
    }
    if (!role || deploying(role)) plan.stop.push(id);
  }
  plan.noop = !filesChanged && plan.restart.length === 0 && plan.stop.length === 0;
  return plan;
}

/** Where a runtime's tarball is uploaded to before `installRuntime` unpacks it. */
const runtimeUpload = (host: DeployHost, name: string) =>
  path.posix.join(host.baseDir, 'runtimes', `.${name}.tgz.part`);

/**
 * Upload the plan's files as `<name>.part` into the release dir (renamed at activation), and the runtime's
 * tarball when the host lacks it (`runtime`: the verified cached one).
 */
export async function uploadFiles(
  conn: SshConnection,
  host: DeployHost,
  plan: HostPlan,
  onProgress: (done: number, total: number, file: string) => void,
  runtime?: CachedRuntime,
): Promise<number> {
  const dir = path.posix.join(host.baseDir, 'releases', plan.version);
  const files = plan.upload.map((f) => ({
    name: f.name,
    from: f.localPath,
    to: `${dir}/${f.name}.part`,
    bytes: f.bytes,
    mode: f.name.endsWith('.mjs') ? 0o755 : 0o644,
  }));
  if (runtime) {
    files.push({
      name: runtime.name,
      from: runtime.tgz,
      to: runtimeUpload(host, runtime.name),
      bytes: runtime.bytes,
      mode: 0o600,
    });
  }
  const total = files.reduce((a, f) => a + f.bytes, 0);
  const done = new Map<string, number>();
  let last = 0;
  await Promise.all(
    files.map((f) =>
      conn.upload(f.from, f.to, {
        mode: f.mode,
        onProgress: (d) => {
          done.set(f.name, d);
          const sum = [...done.values()].reduce((a, b) => a + b, 0);
          // progress events in ~25% steps: a line per step on a TTY stays readable
          if (sum === total || sum - last >= total / 4) {
            last = sum;
            onProgress(sum, total, f.name);
          }
        },
      }),
    ),
  );
  return total;
}

/**
 * Unpack an uploaded runtime tarball into base_dir/runtimes/<name>/bin/node, checking the tarball against the
 * pinned sha512 and the binary against its sha256 on the host (sh, tar, gzip and coreutils: nothing else).
 * RUNTIME, written last, marks it complete.
 */
export async function installRuntime(
  conn: SshConnection,
  host: DeployHost,
  rt: CachedRuntime,
): Promise<void> {
  const R = path.posix.join(host.baseDir, 'runtimes');
  const cmd = [
    `R=${shq(R)}; N=${shq(rt.name)}; T=${shq(runtimeUpload(host, rt.name))}`,
    'if [ -f "$R/$N/RUNTIME" ]; then rm -f "$T"; exit 0; fi',
    `[ "$(sha512sum < "$T" | cut -d' ' -f1)" = ${shq(integrityHex(rt.integrity))} ] || { echo "the uploaded tarball of $N does not match its sha512 (corrupt upload)" >&2; rm -f "$T"; exit 5; }`,
    'D="$R/.$N.tmp.$$"; rm -rf "$D"; mkdir -p "$D/bin"',
    'tar -xzf "$T" -C "$D" package/bin/node || { echo "could not unpack $T (tar and gzip are needed)" >&2; rm -rf "$D"; exit 5; }',
    'mv "$D/package/bin/node" "$D/bin/node"; rm -rf "$D/package"',
    `[ "$(sha256sum < "$D/bin/node" | cut -d' ' -f1)" = ${shq(rt.nodeSha256)} ] || { echo "the unpacked bin/node of $N does not match its sha256" >&2; rm -rf "$D"; exit 5; }`,
    `echo ${shq(`${rt.version} ${rt.arch} ${rt.integrity}`)} > "$D/RUNTIME"`,
    'rm -rf "$R/$N"; mv "$D" "$R/$N"; rm -f "$T"',
  ].join('\n');
  const r = await conn.exec(cmd, { timeoutMs: 300_000 });
  if (r.code !== 0) {
    throw new UserError(
      `installing the runtime ${rt.name} on ${host.name} failed: ${(r.stderr.trim() || r.stdout.trim() || `exit ${r.code}`).slice(-800)}`,
      {
        code: 'GOD_DEPLOY_AGENT',
        hint: `Check the disk and ${R} on ${host.name}, then deploy again (the upload is retried).`,
      },
    );
  }
}

export interface AgentResult {
  ok: boolean;
  error?: string;
  [k: string]: unknown;
}

function parseAgent(
  host: DeployHost,
  r: { code: number | null; stdout: string; stderr: string },
  what: string,
) {
  const line = r.stdout.trim().split('\n').pop() ?? '';
  let out: AgentResult | undefined;
  try {
    out = JSON.parse(line);
  } catch {
    // fall through
  }
  if (!out?.ok) {
    const why = out?.error ?? (r.stderr.trim() || r.stdout.trim() || `exit ${r.code}`).slice(-1500);
    throw new UserError(`${what} failed on ${host.name}: ${why}`, {
      code: 'GOD_DEPLOY_AGENT',
      hint: `Look at ${host.baseDir} on ${host.name} (releases/, run/, logs/).`,
    });
  }
  return out;
}

/** Copy reused files, rename uploads, then run the release's agent to switch `current` and restart. */
export async function activate(
  conn: SshConnection,
  host: DeployHost,
  plan: Pick<HostPlan, 'version' | 'reuse' | 'sums' | 'processes' | 'restart' | 'stop'> & {
    forget?: string[];
    /** link the release to this runtime (a deploy); without it, the release keeps its own (a rollback) */
    runtime?: string;
  },
  o: { keep: number; mode: ProcessMode; killMs?: number },
): Promise<AgentResult> {
  const rel = path.posix.join(host.baseDir, 'releases', plan.version);
  const cmd = [
    'set -e',
    `cd ${shq(rel)}`,
    ...plan.reuse.map(([from, to]) => `cp -p -- ${shq(path.posix.join(host.baseDir, from))} ${shq(to)}`),
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion
    'for f in *.part; do [ -e "$f" ] || continue; mv -f -- "$f" "${f%.part}"; done',
    ...(plan.runtime ? [`ln -sfn ${shq(`../../runtimes/${plan.runtime}/bin/node`)} node`] : []),
    NO_RUNTIME_EXIT,
    `exec ./node ${AGENT_FILE}`,
  ].join('\n');
  const req = {
    cmd: 'activate',
    base: host.baseDir,
    version: plan.version,
    processes: plan.processes,
    restart: plan.restart,
    stop: plan.stop,
    sums: plan.sums,
    forget: plan.forget ?? [],
    keep: o.keep,
    mode: o.mode,
    kill_ms: o.killMs,
    run_as: host.runAs ?? RUN_AS_DEFAULT,
  };
  const r = await conn.exec(cmd, { stdin: JSON.stringify(req), timeoutMs: 120_000 });
  if (r.code === 4) throw noRuntime(host, plan.version);
  return parseAgent(host, r, `activating ${plan.version}`);
}

/** The agent runs on the release's own Node (./node): exit 4 when the release has none. */
const NO_RUNTIME_EXIT = '[ -x node ] || exit 4';

function noRuntime(host: DeployHost, version: string): UserError {
  return new UserError(
    `release ${version} on ${host.name} has no Node runtime (it predates releases carrying Node, or its runtime was removed)`,
    {
      code: 'GOD_DEPLOY_NO_RELEASE',
      hint: 'Deploy a release (`god deploy`): it brings its runtime; older releases cannot be switched to.',
    },
  );
}

/**
 * Switch a host back to a release it still has (no upload): the processes of `roles` (all without) get that
 * release's spec, `restart` are restarted, `forget` are dropped from the host's history.
 */
export function switchRelease(
  conn: SshConnection,
  host: DeployHost,
  to: { version: string; roles?: Role[]; restart: string[]; forget?: string[] },
  o: { keep: number; mode: ProcessMode; killMs?: number },
): Promise<AgentResult> {
  return activate(
    conn,
    host,
    {
      version: to.version,
      reuse: [],
      sums: {},
      processes: host.processes
        .filter((p) => !to.roles || to.roles.includes(p.role))
        .map((p) => specFor(p, to.version)),
      restart: to.restart,
      stop: [],
      forget: to.forget,
    },
    o,
  );
}

/** Run the current release's agent (stop/start/restart/status/deactivate). */
export async function agent(
  conn: SshConnection,
  host: DeployHost,
  req: Record<string, unknown>,
  o: { mode?: ProcessMode; killMs?: number } = {},
): Promise<AgentResult> {
  const cur = path.posix.join(host.baseDir, 'current');
  const cmd = [
    `cd ${shq(cur)} 2>/dev/null && [ -f ${AGENT_FILE} ] || exit 127`,
    NO_RUNTIME_EXIT,
    `exec ./node ${AGENT_FILE}`,
  ].join('\n');
  const r = await conn.exec(cmd, {
    stdin: JSON.stringify({
      base: host.baseDir,
      mode: o.mode,
      kill_ms: o.killMs,
      run_as: host.runAs ?? RUN_AS_DEFAULT,
      ...req,
    }),
    timeoutMs: 120_000,
  });
  if (r.code === 4) throw noRuntime(host, 'current');
  if (r.code === 127 || /Cannot find module/.test(r.stderr)) {
    throw new UserError(`${host.name} has no release in ${host.baseDir} yet`, {
      code: 'GOD_DEPLOY_NO_RELEASE',
      hint: 'Run `god deploy` first.',
    });
  }
  return parseAgent(host, r, String(req.cmd));
}

/**
 * The last lines of a process's log on the host (for failed health checks): journald's under systemd (the
 * unit exists), else the supervisor's log file.
 */
export async function logTail(
  conn: SshConnection,
  host: DeployHost,
  id: string,
  lines = 15,
): Promise<string> {
  const unit = `fg-${id}.service`;
  const file = shq(path.posix.join(host.baseDir, 'logs', `${id}.log`));
  const r = await conn.exec(
    [
      `if [ -f /etc/systemd/system/${shq(unit)} ] && command -v journalctl >/dev/null 2>&1; then`,
      `  journalctl -u ${shq(unit)} -n ${lines} --no-pager -o cat 2>/dev/null`,
      `else tail -n ${lines} ${file} 2>/dev/null; fi`,
    ].join('\n'),
  );
  return r.stdout.trim();
}
