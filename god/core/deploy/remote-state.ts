// What a host already has: its arch and free disk, the runtimes, the current release, the release history, file
// hashes, process specs. Read with one shell command: before the first upload a host has no Node at all.
import { z } from 'zod';
import { UserError } from '../../../kernel/errors.ts';
import { type LastExit, LastExitSchema } from '../providers/types.ts';
import { type SshConnection, shq } from '../ssh/connection.ts';
import type { DeployHost } from './types.ts';

export interface RemoteState {
  /** `uname -m` */
  machine: string;
  /** KiB free where base_dir lives (undefined when df said nothing) */
  freeKiB?: number;
  /** complete runtimes under base_dir/runtimes (node-v24.22.3-linux-x64, ...) */
  runtimes: Set<string>;
  /** release → the runtime its `node` link points at */
  runtimeOf: Map<string, string>;
  current: string | null;
  history: string[];
  /** release → file → sha256 (from each complete release's SHA256SUMS) */
  releases: Map<string, Map<string, string>>;
  /** file → sha256 of what is in the target release dir now (complete or not) */
  target: Map<string, string>;
  /** process id → spec JSON text on the host */
  specs: Map<string, string>;
  alive: Set<string>;
  /** process id → what its supervisor recorded in run/<id>.state (restarts, how it last ended) */
  supervision: Map<string, { restarts: number; last_exit: LastExit | null }>;
}

/** run/<id>.state as fg-supervisor.mjs writes it; read from the host, so checked (anything else is ignored) */
const SupervisorStateSchema = z.object({
  restarts: z.number().int().min(0).catch(0),
  last_exit: LastExitSchema.nullable().catch(null),
});

export function stateCommand(host: DeployHost, version: string | undefined, mkdir: boolean): string {
  const B = shq(host.baseDir);
  const V = version ? shq(version) : "''";
  return [
    `B=${B}; V=${V}`,
    // run/ (process specs with their secrets) and logs/: only the deploy user enters them
    mkdir
      ? 'mkdir -p "$B/releases/$V" "$B/runtimes" "$B/run" "$B/logs" && chmod 700 "$B/run" "$B/logs" || exit 3'
      : ':',
    'echo "@@machine $(uname -m)"',
    `echo "@@free $(df -Pk "$B" 2>/dev/null | awk 'NR==2{print $4}')"`,
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion
    'echo "@@runtimes"; for f in "$B"/runtimes/*/RUNTIME; do [ -f "$f" ] || continue; d=${f%/RUNTIME}; echo "${d##*/}"; done',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion
    'echo "@@links"; for l in "$B"/releases/*/node; do [ -L "$l" ] || continue; d=${l%/node}; echo "${d##*/} $(readlink "$l")"; done',
    'echo "@@current $(readlink "$B/current" 2>/dev/null)"',
    'echo "@@log"; cat "$B/releases.log" 2>/dev/null',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion
    'echo "@@sums"; for f in "$B"/releases/*/SHA256SUMS; do [ -f "$f" ] || continue; d=${f%/SHA256SUMS}; d=${d##*/}; sed "s|^|$d |" "$f"; done',
    'echo "@@target"; if [ -n "$V" ] && [ -d "$B/releases/$V" ]; then (cd "$B/releases/$V" && for f in *; do [ -f "$f" ] && [ ! -L "$f" ] && sha256sum -- "$f"; done); fi',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion
    'echo "@@specs"; for f in "$B"/run/*.json; do [ -f "$f" ] || continue; id=${f##*/}; id=${id%.json}; a=0; p=$(cat "$B/run/$id.pid" 2>/dev/null); if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then a=1; elif command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "fg-$id.service" 2>/dev/null; then a=1; fi; echo "$id $a $(cat "$f")"; done',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion
    'echo "@@supervision"; for f in "$B"/run/*.state; do [ -f "$f" ] || continue; id=${f##*/}; id=${id%.state}; echo "$id $(head -c 4096 "$f" | tr -d \'\\n\')"; done',
    'echo "@@end"',
  ].join('\n');
}

export function parseState(host: DeployHost, out: string): RemoteState {
  const st: RemoteState = {
    machine: '',
    runtimes: new Set(),
    runtimeOf: new Map(),
    current: null,
    history: [],
    releases: new Map(),
    target: new Map(),
    specs: new Map(),
    alive: new Set(),
    supervision: new Map(),
  };
  let section = '';
  let sawEnd = false;
  for (const line of out.split('\n')) {
    if (line.startsWith('@@machine')) {
      st.machine = line.slice('@@machine'.length).trim();
      continue;
    }
    if (line.startsWith('@@free')) {
      const n = Number(line.slice('@@free'.length).trim() || NaN);
      if (Number.isFinite(n)) st.freeKiB = n;
      continue;
    }
    if (line.startsWith('@@current')) {
      const c = line.slice('@@current'.length).trim();
      st.current = c ? (c.split('/').pop() ?? null) : null;
      continue;
    }
    if (line.startsWith('@@')) {
      section = line.slice(2).trim();
      if (section === 'end') sawEnd = true;
      continue;
    }
    if (!line.trim()) continue;
    if (section === 'log') st.history.push(line.trim());
    else if (section === 'runtimes') st.runtimes.add(line.trim());
    else if (section === 'links') {
      // <release> ../../runtimes/<runtime>/bin/node
      const m = /^(\S+) .*runtimes\/([^/]+)\/bin\/node$/.exec(line.trim());
      if (m) st.runtimeOf.set(m[1]!, m[2]!);
    } else if (section === 'sums') {
      const m = /^(\S+) ([0-9a-f]{64}) [ *](.+)$/.exec(line);
      if (!m) continue;
      let rel = st.releases.get(m[1]!);
      if (!rel) st.releases.set(m[1]!, (rel = new Map()));
      rel.set(m[3]!, m[2]!);
    } else if (section === 'target') {
      const m = /^([0-9a-f]{64}) [ *](.+)$/.exec(line);
      if (m) st.target.set(m[2]!, m[1]!);
    } else if (section === 'specs') {
      const m = /^(\S+) ([01]) (.*)$/.exec(line);
      if (!m) continue;
      st.specs.set(m[1]!, m[3]!);
      if (m[2] === '1') st.alive.add(m[1]!);
    } else if (section === 'supervision') {
      const m = /^(\S+) (.*)$/.exec(line);
      if (!m) continue;
      let json: unknown;
      try {
        json = JSON.parse(m[2]!);
      } catch {
        continue; // half-written or not ours: informative only
      }
      const r = SupervisorStateSchema.safeParse(json);
      if (r.success) st.supervision.set(m[1]!, r.data);
    }
  }
  if (!sawEnd) {
    throw new UserError(`could not read the deploy state of ${host.name} (${host.baseDir})`, {
      code: 'GOD_DEPLOY_STATE',
      hint: `Check that ${host.baseDir} is writable by ${host.user ?? 'the SSH user'} on ${host.name}.`,
    });
  }
  return st;
}

export async function readState(
  conn: SshConnection,
  host: DeployHost,
  version: string | undefined,
  mkdir: boolean,
): Promise<RemoteState> {
  const r = await conn.exec(stateCommand(host, version, mkdir), { timeoutMs: 60_000 });
  if (r.code === 3) {
    throw new UserError(`cannot create ${host.baseDir} on ${host.name}: ${r.stderr.trim()}`, {
      code: 'GOD_DEPLOY_STATE',
      hint: `Create it and give ${host.user ?? 'the SSH user'} write access, or set another base_dir for the host.`,
    });
  }
  return parseState(host, r.stdout);
}
