// One host's side of a deploy: plan against its state, upload what changed, activate (switch + restart).
import path from 'node:path';
import type { Role } from '../../../protocol/redis-contract.ts';
import { UserError } from '../../../kernel/errors.ts';
import { type SshConnection, shq } from '../ssh/connection.ts';
import { AGENT_FILE, type LocalRelease, type ReleaseFile, SUPERVISOR_FILE } from './release.ts';
import type { RemoteState } from './remote-state.ts';
import type { DeployHost, ProcessMode, ProcessSpec } from './types.ts';

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
  processes: Array<{ role: Role; id: string; env: Record<string, string> }>;
  restart: string[];
  stop: string[];
  /** nothing to do on this host */
  noop: boolean;
}

export function specFor(
  p: ProcessSpec,
  version: string,
): { role: Role; id: string; env: Record<string, string> } {
  return { role: p.role, id: p.id, env: { ...p.env, FG_ID: p.id, FG_RELEASE: version } };
}

export function planHost(
  host: DeployHost,
  st: RemoteState,
  release: LocalRelease,
  roles: Role[] | undefined,
): HostPlan {
  const version = release.version;
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
    noop: false,
  };
  for (const [name, w] of want) {
    plan.sums[name] = w.sha;
    if (st.target.get(name) === w.sha) plan.unchanged.push(name);
    else if (bySha.has(w.sha)) plan.reuse.push([bySha.get(w.sha)!, name]);
    else if (w.file) plan.upload.push(w.file);
    else throw new Error(`no source for ${name} on ${host.name}`);
  }
  const filesChanged = plan.upload.length > 0 || plan.reuse.length > 0 || st.current !== version;
  for (const p of host.processes) {
    if (!deploying(p.role)) continue;
    const spec = specFor(p, version);
    plan.processes.push(spec);
    const same = st.specs.get(p.id) === JSON.stringify(spec);
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

/** Upload the plan's files as `<name>.part` into the release dir (renamed at activation). */
export async function uploadFiles(
  conn: SshConnection,
  host: DeployHost,
  plan: HostPlan,
  onProgress: (done: number, total: number, file: string) => void,
): Promise<number> {
  const dir = path.posix.join(host.baseDir, 'releases', plan.version);
  const total = plan.upload.reduce((a, f) => a + f.bytes, 0);
  const done = new Map<string, number>();
  let last = 0;
  await Promise.all(
    plan.upload.map((f) =>
      conn.upload(f.localPath, `${dir}/${f.name}.part`, {
        mode: f.name.endsWith('.mjs') ? 0o755 : 0o644,
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
    `exec ${shq(host.nodeBin ?? 'node')} ${AGENT_FILE}`,
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
  };
  const r = await conn.exec(cmd, { stdin: JSON.stringify(req), timeoutMs: 120_000 });
  return parseAgent(host, r, `activating ${plan.version}`);
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
  const cmd = `exec ${shq(host.nodeBin ?? 'node')} ${shq(path.posix.join(host.baseDir, 'current', AGENT_FILE))}`;
  const r = await conn.exec(cmd, {
    stdin: JSON.stringify({ base: host.baseDir, mode: o.mode, kill_ms: o.killMs, ...req }),
    timeoutMs: 120_000,
  });
  if (r.code === 127 || /Cannot find module/.test(r.stderr)) {
    throw new UserError(`${host.name} has no release in ${host.baseDir} yet`, {
      code: 'GOD_DEPLOY_NO_RELEASE',
      hint: 'Run `god deploy` first.',
    });
  }
  return parseAgent(host, r, String(req.cmd));
}

/** The last lines of a process's log on the host (for failed health checks). */
export async function logTail(
  conn: SshConnection,
  host: DeployHost,
  id: string,
  lines = 15,
): Promise<string> {
  const r = await conn.exec(
    `tail -n ${lines} ${shq(path.posix.join(host.baseDir, 'logs', `${id}.log`))} 2>/dev/null`,
  );
  return r.stdout.trim();
}
