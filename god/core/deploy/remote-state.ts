// What a host already has: Node, the current release, the release history, file hashes, process specs.
// Read with one shell command (before any upload there is no agent on a fresh host).
import { UserError } from '../../../kernel/errors.ts';
import { type SshConnection, shq } from '../ssh/connection.ts';
import { noNodeError } from '../ssh/errors.ts';
import type { DeployHost } from './types.ts';

export interface RemoteState {
  node: string;
  current: string | null;
  history: string[];
  /** release → file → sha256 (from each complete release's SHA256SUMS) */
  releases: Map<string, Map<string, string>>;
  /** file → sha256 of what is in the target release dir now (complete or not) */
  target: Map<string, string>;
  /** process id → spec JSON text on the host */
  specs: Map<string, string>;
  alive: Set<string>;
}

export function stateCommand(host: DeployHost, version: string | undefined, mkdir: boolean): string {
  const B = shq(host.baseDir);
  const node = shq(host.nodeBin ?? 'node');
  const V = version ? shq(version) : "''";
  return [
    `B=${B}; V=${V}`,
    // run/ (process specs with their secrets) and logs/: only the deploy user enters them
    mkdir ? 'mkdir -p "$B/releases/$V" "$B/run" "$B/logs" && chmod 700 "$B/run" "$B/logs" || exit 3' : ':',
    `N=$(${node} -e 'process.stdout.write(process.versions.node)' 2>&1); echo "@@node $? $N"`,
    'echo "@@current $(readlink "$B/current" 2>/dev/null)"',
    'echo "@@log"; cat "$B/releases.log" 2>/dev/null',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion
    'echo "@@sums"; for f in "$B"/releases/*/SHA256SUMS; do [ -f "$f" ] || continue; d=${f%/SHA256SUMS}; d=${d##*/}; sed "s|^|$d |" "$f"; done',
    'echo "@@target"; if [ -n "$V" ] && [ -d "$B/releases/$V" ]; then (cd "$B/releases/$V" && for f in *; do [ -f "$f" ] && sha256sum -- "$f"; done); fi',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion
    'echo "@@specs"; for f in "$B"/run/*.json; do [ -f "$f" ] || continue; id=${f##*/}; id=${id%.json}; a=0; p=$(cat "$B/run/$id.pid" 2>/dev/null); if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then a=1; elif command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "fg-$id.service" 2>/dev/null; then a=1; fi; echo "$id $a $(cat "$f")"; done',
    'echo "@@end"',
  ].join('\n');
}

export function parseState(host: DeployHost, out: string): RemoteState {
  const st: RemoteState = {
    node: '',
    current: null,
    history: [],
    releases: new Map(),
    target: new Map(),
    specs: new Map(),
    alive: new Set(),
  };
  let section = '';
  let sawEnd = false;
  for (const line of out.split('\n')) {
    if (line.startsWith('@@node ')) {
      const m = /^@@node (\d+) ?(.*)$/.exec(line);
      const code = Number(m?.[1]);
      const v = (m?.[2] ?? '').trim();
      const bin = host.nodeBin ?? 'node';
      if (code === 127 || /not found|No such file/i.test(v)) throw noNodeError(host, bin, 'was not found');
      if (code !== 0) throw noNodeError(host, bin, `does not run (${v.slice(0, 200)})`);
      if (Number(v.split('.')[0]) < 20) throw noNodeError(host, bin, `is version ${v}, need 20+`);
      st.node = v;
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
    else if (section === 'sums') {
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
