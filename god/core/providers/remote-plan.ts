// What up/down/restart/deploy would change on hosts reached over SSH (the ssh inventory; ec2's instances can
// use the same), from each host's deploy state read with one shell command that changes nothing (no folder
// made, no agent needed: the same read as a rollback's). It follows remote-fleet.ts and the host agent: `start`
// skips a process that runs, `stop` of one that does not is nothing, `restart` stops and starts each.
import type { Role } from '../../../protocol/redis-contract.ts';
import { AGENT_FILE, SUPERVISOR_FILE } from '../deploy/release.ts';
import { selectOnHosts } from '../deploy/remote-fleet.ts';
import { readState } from '../deploy/remote-state.ts';
import type { DeployHost } from '../deploy/types.ts';
import { errorFields, mapLimit } from '../deploy/util.ts';
import type { SshPool } from '../ssh/pool.ts';
import type { PlannedChange, Target } from './types.ts';

/** What a plan knows of a host: its running processes and release, or why it could not be read. */
export type HostState =
  | { ok: true; alive: Set<string>; current: string | null; specs: Map<string, Role | undefined> }
  | { ok: false; error: string };

/** Read every host's state at once (at most `concurrency` at a time); a host that fails maps to its error. */
export async function readHostStates(
  hosts: DeployHost[],
  pool: SshPool,
  concurrency: number,
): Promise<Map<string, HostState>> {
  const states = await mapLimit(hosts, concurrency, async (h): Promise<HostState> => {
    try {
      const st = await readState(await pool.get(h), h, undefined, false);
      const specs = new Map<string, Role | undefined>();
      for (const [id, text] of st.specs) specs.set(id, roleOfSpec(text));
      return { ok: true, alive: st.alive, current: st.current, specs };
    } catch (err) {
      pool.drop(h);
      return { ok: false, error: errorFields(err).error };
    }
  });
  return new Map(hosts.map((h, i) => [h.name, states[i]!]));
}

/** start / stop / restart of the selected processes, as the agents would do them. */
export function planProcesses(
  action: 'start' | 'stop' | 'restart',
  hosts: DeployHost[],
  states: Map<string, HostState>,
  target?: Target,
): PlannedChange[] {
  return selectOnHosts(hosts, target).flatMap(({ host, procs }) => {
    const st = states.get(host.name);
    return procs.flatMap((p): PlannedChange[] => {
      const runs = st?.ok ? st.alive.has(p.id) : undefined;
      if (action === 'start' && runs) return [];
      if (action === 'stop' && runs === false) return [];
      const notes = [`on ${host.name}`];
      if (action === 'restart' && runs === false) notes.push('not running now: it starts');
      if (!st?.ok) notes.push(unknownState(st));
      return [{ action, resource: 'process', subject: p.id, detail: notes.join('; '), host: host.name }];
    });
  });
}

/**
 * A deploy: each host with a selected process gets the release (files it already has are reused, which only
 * the local release can tell), its selected processes restart, and processes it runs that the inventory no
 * longer lists (of the deployed roles) stop. Given the `version` it ships, a host already at it whose
 * selected processes all run has nothing to do, and each upload says "from → to".
 */
export function planDeploy(
  hosts: DeployHost[],
  states: Map<string, HostState>,
  target?: Target,
  version?: string,
): PlannedChange[] {
  const deploying = (r: Role | undefined) => !r || !target?.role || r === target.role;
  return selectOnHosts(hosts, target).flatMap(({ host, procs }) => {
    const st = states.get(host.name);
    const roles = [...new Set(procs.map((p) => p.role))];
    const files = `${[AGENT_FILE, SUPERVISOR_FILE, 'manifest.json', ...roles.map((r) => `${r}.mjs`)].join(', ')} into ${host.baseDir}/releases (files it has are reused)`;
    const wanted = new Set(host.processes.map((p) => p.id));
    const stray = st?.ok ? [...st.specs].filter(([id, role]) => !wanted.has(id) && deploying(role)) : [];
    if (
      version &&
      st?.ok &&
      st.current === version &&
      !stray.length &&
      procs.every((p) => st.alive.has(p.id))
    )
      return [];
    const notes = !version
      ? [files, st?.ok ? `now at ${st.current ?? 'no release'}` : unknownState(st)]
      : [
          `${st?.ok ? (st.current ?? '(none)') : '?'} → ${version}`,
          files,
          ...(st?.ok ? [] : [unknownState(st)]),
        ];
    const on = { resource: 'process', host: host.name } as const;
    return [
      {
        action: 'upload',
        resource: 'release',
        subject: host.name,
        detail: notes.join('; '),
        host: host.name,
      },
      ...procs.map(
        (p): PlannedChange => ({
          action: 'restart',
          ...on,
          subject: p.id,
          detail: `on ${host.name}, with the new release`,
        }),
      ),
      ...stray.map(
        ([id]): PlannedChange => ({
          action: 'stop',
          ...on,
          subject: id,
          detail: `on ${host.name}: the inventory no longer lists it`,
        }),
      ),
    ];
  });
}

function unknownState(st: HostState | undefined): string {
  return `state unknown (${st && !st.ok ? st.error : 'not read'}): listed as it would be tried`;
}

function roleOfSpec(text: string): Role | undefined {
  try {
    return JSON.parse(text).role;
  } catch {
    return undefined; // unreadable spec: a deploy cleans it up
  }
}
