// A fleet of SSH hosts (the ssh provider's inventory, or the ec2 provider's instances): the config turned
// into deploy hosts, and start/stop/restart of role processes through each host's agent.
import os from 'node:os';
import path from 'node:path';
import type { Role } from '../../../protocol/redis-contract.ts';
import { durationMs } from '../../../kernel/units.ts';
import { UserError } from '../../../kernel/errors.ts';
import { UNLISTED_ENV } from '../admission.ts';
import { checkProcessEnv, roleEnv } from '../config/role-env.ts';
import type { GodConfig } from '../config/schema.ts';
import { type EventSink, nullSink } from '../events.ts';
import type { ExpectedProcess, Target } from '../providers/types.ts';
import type { SshPool } from '../ssh/pool.ts';
import type { SshOptions } from '../ssh/types.ts';
import { agent, specFor } from './host-ops.ts';
import type { DeployHost, ProcessSpec } from './types.ts';
import { errorFields, mapLimit } from './util.ts';

export const DEFAULT_ENDPOINT_PORT = 7070;

export function expandPath(p: string, baseDir: string): string {
  if (p === '~' || p.startsWith('~/')) return path.join(os.homedir(), p.slice(1));
  return path.resolve(baseDir, p);
}

/** SSH settings from the config (`ssh:` section), with GOD_SSH_* env overrides. */
export function sshOptionsFrom(
  config: GodConfig,
  baseDir: string,
  env: NodeJS.ProcessEnv = process.env,
): SshOptions {
  const s = config.ssh;
  const key = env.GOD_SSH_KEY ?? s?.key;
  const accept = env.GOD_SSH_ACCEPT_NEW;
  return {
    user: s?.user,
    privateKeyPath: key ? expandPath(key, baseDir) : undefined,
    knownHostsPath: expandPath(env.GOD_KNOWN_HOSTS ?? s?.known_hosts ?? '~/.ssh/known_hosts', baseDir),
    acceptNew:
      accept !== undefined
        ? !['0', 'false', 'no', ''].includes(accept.toLowerCase())
        : !!s?.accept_new_host_keys,
    connectTimeoutMs: durationMs.parse(s?.connect_timeout ?? '10s'),
    jump: s?.jump && {
      address: s.jump.address,
      port: s.jump.port,
      user: s.jump.user,
      privateKeyPath: s.jump.key ? expandPath(s.jump.key, baseDir) : undefined,
    },
  };
}

/**
 * The id of process `index` (0-based) of `role` on a host: `<role>-<host>` for the first (so going from one
 * process per host to several renames nothing that runs), `<role>-<host>-p<index+1>` for the others.
 */
export function processId(role: Role, hostName: string, index = 0): string {
  return index === 0 ? `${role}-${hostName}` : `${role}-${hostName}-p${index + 1}`;
}

/** The host (ssh: its name; ec2: the instance id) a process id of `processId` names, without role and number. */
export function hostOfProcessId(id: string): string {
  return id.replace(/^(feeder|endpoint|keeper)-/, '').replace(/-p\d+$/, '');
}

/**
 * Process `index` of `role` on a host (`roles.<role>.processes` of them): id from processId, env from the
 * config; endpoint process i listens on the role's port + i.
 */
export function processFor(
  config: GodConfig,
  role: Role,
  hostName: string,
  redisUrl: string,
  index = 0,
): ProcessSpec {
  const id = processId(role, hostName, index);
  const env = roleEnv(config, role, { id, redisUrl, hostName });
  delete env.FG_RELEASE; // set per deploy
  checkProcessEnv(env, id);
  const p: ProcessSpec = { role, id, env };
  if (role === 'endpoint') {
    const o = config.roles.endpoint.options;
    const port = Number(env.FG_ENDPOINT_PORT ?? o.port ?? DEFAULT_ENDPOINT_PORT) + index;
    // set even for the first: roles.endpoint.env may name the base port, and process i must not take it too
    if (config.roles.endpoint.processes > 1) env.FG_ENDPOINT_PORT = String(port);
    p.endpoint = { port, tls: !!o.tls };
    // out of the registry until the deploy's health check admits it (admission.ts)
    env[UNLISTED_ENV] = '1';
  }
  return p;
}

/** Every process of `role` on a host: `roles.<role>.processes` of them (1 unless the config says more). */
export function processesFor(
  config: GodConfig,
  role: Role,
  hostName: string,
  redisUrl: string,
): ProcessSpec[] {
  return Array.from({ length: config.roles[role].processes }, (_, i) =>
    processFor(config, role, hostName, redisUrl, i),
  );
}

export interface RemoteHostSpec {
  name: string;
  address: string;
  port?: number;
  user?: string;
  roles: Role[];
  baseDir?: string;
}

export function deployHostsFrom(config: GodConfig, hosts: RemoteHostSpec[]): DeployHost[] {
  const redisUrl = config.redis.url;
  if (!redisUrl) {
    throw new UserError('the config names no Redis for the hosts (redis.url)', {
      code: 'GOD_CONFIG',
      hint: 'Set redis.url in god.config.yaml to a Redis every host can reach.',
    });
  }
  return hosts.map((h) => ({
    name: h.name,
    address: h.address,
    port: h.port ?? 22,
    user: h.user ?? config.ssh?.user,
    baseDir: h.baseDir ?? config.ssh?.base_dir ?? '/opt/filmgrain',
    runAs: config.ssh?.run_as,
    nodeBin: config.ssh?.node_path,
    processes: h.roles.flatMap((r) => processesFor(config, r, h.name, redisUrl)),
  }));
}

export function expectedOf(hosts: DeployHost[]): ExpectedProcess[] {
  return hosts.flatMap((h) => h.processes.map((p) => ({ role: p.role, id: p.id, host: h.name })));
}

const selects = (p: ProcessSpec, t?: Target) =>
  (!t?.role || p.role === t.role) && (!t?.ids || t.ids.includes(p.id));

/**
 * The hosts with a selected process, each with those processes. An id no host has is the operation's error,
 * before any host is reached: the one check of an op on the hosts (onHosts) and of its plan (remote-plan.ts).
 */
export function selectOnHosts(
  hosts: DeployHost[],
  target: Target | undefined,
): Array<{ host: DeployHost; procs: ProcessSpec[] }> {
  const selected = hosts
    .map((host) => ({ host, procs: host.processes.filter((p) => selects(p, target)) }))
    .filter((x) => x.procs.length);
  if (target?.ids) {
    const known = new Set(selected.flatMap((x) => x.procs.map((p) => p.id)));
    const unknown = target.ids.filter((id) => !known.has(id));
    if (unknown.length) {
      throw new UserError(`no process ${unknown.join(', ')} in the fleet`, {
        code: 'GOD_USAGE',
        hint: '`god status` lists the process ids.',
      });
    }
  }
  return selected;
}

/**
 * Run an agent command on every host that has a selected process; every host is tried and reported, then
 * one error names all the hosts that failed.
 */
export async function onHosts(
  hosts: DeployHost[],
  pool: SshPool,
  o: { step: string; target?: Target; concurrency?: number; events?: EventSink },
  fn: (host: DeployHost, procs: ProcessSpec[]) => Promise<string | undefined>,
): Promise<void> {
  const ev = o.events ?? nullSink;
  const todo = selectOnHosts(hosts, o.target);
  const failed: string[] = [];
  await mapLimit(todo, o.concurrency ?? 10, async ({ host: h, procs }) => {
    const t0 = Date.now();
    ev.emit({ type: 'host', step: o.step, host: h.name, phase: 'start' });
    try {
      const detail = await fn(h, procs);
      ev.emit({
        type: 'host',
        step: o.step,
        host: h.name,
        phase: 'end',
        ok: true,
        detail,
        ms: Date.now() - t0,
      });
    } catch (err) {
      const f = errorFields(err);
      failed.push(`${h.name}: ${f.error}`);
      ev.emit({
        type: 'host',
        step: o.step,
        host: h.name,
        phase: 'end',
        ok: false,
        error: f.error,
        ms: Date.now() - t0,
      });
      pool.drop(h);
    }
  });
  if (failed.length) {
    throw new UserError(
      `${o.step} failed on ${failed.length} of ${todo.length} host(s):\n  ${failed.join('\n  ')}`,
      {
        code: 'GOD_REMOTE',
        hint: 'The other hosts are done. Fix the hosts named above (see the errors) and run the command again.',
      },
    );
  }
}

/** restart / stop / start processes on the hosts through their agents. */
export async function remoteProcesses(
  action: 'restart' | 'stop' | 'start',
  hosts: DeployHost[],
  pool: SshPool,
  o: { target?: Target; concurrency?: number; events?: EventSink },
): Promise<void> {
  const ev = o.events ?? nullSink;
  await onHosts(hosts, pool, { step: action, ...o }, async (h, procs) => {
    const conn = await pool.get(h);
    const ids = procs.map((p) => p.id);
    const req =
      action === 'start'
        ? {
            cmd: 'start',
            // the spec a deploy writes (a later deploy sees it unchanged), the agent adds FG_RELEASE
            processes: procs.map((p) => specFor(p)),
          }
        : { cmd: action, ids, forget: action === 'stop' ? false : undefined };
    const out = await agent(conn, h, req);
    for (const p of procs) {
      const started = (out.started as Array<{ id: string; pid?: number }> | undefined)?.find(
        (s) => s.id === p.id,
      );
      if (action === 'stop') ev.emit({ type: 'process', action: 'stopped', role: p.role, id: p.id });
      else if (started)
        ev.emit({ type: 'process', action: 'started', role: p.role, id: p.id, pid: started.pid });
    }
    return `${action} ${ids.join(', ')}`;
  });
}
