// `run: {command, role, hosts, ids, expect_exit}`: a shell command on each picked host over SSH (the local
// fleet: on this machine), with GOD_PIDS naming the picked processes there.
import { spawn } from 'node:child_process';
import os from 'node:os';
import { z } from 'zod';
import { UserError } from '../../../../kernel/errors.ts';
import { RoleSchema } from '../../../../protocol/redis-contract.ts';
import type { DeployHost } from '../../deploy/types.ts';
import { mapLimit } from '../../deploy/util.ts';
import type { ExpectedProcess } from '../../providers/types.ts';
import { shq } from '../../ssh/connection.ts';
import type { ProcessStatus } from '../../status.ts';
import type { PlayContext } from '../context.ts';
import { ids } from '../fields.ts';
import { liveStatus, remote, select } from './fleet.ts';
import { defineKind, type KindStep } from './kind.ts';

export const RunSchema = z
  .object({
    command: z.string().min(1),
    /** hosts running this role (local: this machine); GOD_PIDS holds the pids of its processes there */
    role: RoleSchema.optional(),
    /** hosts by inventory name */
    hosts: z.array(z.string().min(1)).min(1).optional(),
    /** only these processes (GOD_PIDS) */
    ids: ids.optional(),
    expect_exit: z.number().int().min(0).max(255).default(0),
  })
  .strict();
type RunArgs = z.output<typeof RunSchema>;

interface RunTarget {
  host: string;
  deployHost?: DeployHost;
  pids: number[];
}

async function runTargets(
  pc: PlayContext,
  a: RunArgs,
  live?: Map<string, ProcessStatus>,
): Promise<RunTarget[]> {
  live ??= await liveStatus(pc);
  const picked = (await pc.provider.expected()).filter((p) => select(p, a));
  const pidsOf = (ps: ExpectedProcess[]) =>
    ps.map((p) => live?.get(p.id)?.pid).filter((x): x is number => typeof x === 'number');
  const rp = remote(pc);
  if (!rp) {
    if (a.hosts) {
      pc.events.emit({
        type: 'warn',
        message: `run: hosts ${a.hosts.join(', ')} ignored: the ${pc.provider.kind} fleet is this machine`,
      });
    }
    if ((a.role || a.ids) && picked.length === 0) {
      throw new UserError(
        `run: no ${a.role ?? ''} process ${a.ids?.join(', ') ?? ''} in the fleet`.replace(/\s+/g, ' '),
        {
          code: 'GOD_TARGET',
          hint: '`god status` lists the processes; check role and ids of the step.',
        },
      );
    }
    return [{ host: os.hostname(), pids: pidsOf(picked) }];
  }
  const hosts = (await rp.deployHosts()).filter(
    (h) =>
      (!a.hosts || a.hosts.includes(h.name)) &&
      (!(a.role || a.ids) || h.processes.some((p) => select({ ...p, host: h.name }, a))),
  );
  if (a.hosts) {
    const unknown = a.hosts.filter((n) => !hosts.some((h) => h.name === n));
    if (unknown.length) {
      throw new UserError(`run: no host ${unknown.join(', ')} in the fleet (with the role/ids asked)`, {
        code: 'GOD_TARGET',
        hint: `Hosts: ${(await rp.deployHosts()).map((h) => h.name).join(', ')}.`,
      });
    }
  }
  if (hosts.length === 0) {
    throw new UserError('run: no host matches the step', {
      code: 'GOD_TARGET',
      hint: 'Check role, hosts and ids of the step against `god status`.',
    });
  }
  return hosts.map((h) => ({
    host: h.name,
    deployHost: h,
    pids: pidsOf(picked.filter((p) => p.host === h.name)),
  }));
}

function runLocal(
  cmd: string,
  env: NodeJS.ProcessEnv,
  cwd: string,
  timeoutMs: number,
): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn('/bin/sh', ['-c', cmd], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const take = (d: Buffer) => {
      if (out.length < 64 * 1024) out += d.toString('utf8');
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ code: null, out: err.message });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

const lastLine = (s: string) => s.trim().split('\n').slice(-1)[0]?.slice(0, 200) ?? '';

async function runCommand(pc: PlayContext, s: KindStep<'run', RunArgs>, timeoutMs: number) {
  const a = s.args;
  const live = await liveStatus(pc);
  const targets = await runTargets(pc, a, live);
  if (a.role || a.ids) {
    // what the command was pointed at, as it beat before: `replaced` tells the new processes from these
    pc.targeted.set(
      s.index,
      (await pc.provider.expected())
        .filter((p) => select(p, a))
        .map((p) => {
          const beat = live?.get(p.id);
          return {
            role: p.role,
            id: p.id,
            host: p.host,
            pid: beat?.pid ?? null,
            started_at: beat?.started_at ?? null,
          };
        }),
    );
  }
  const fleetRedis = await pc.tryRedis();
  const extraEnv = (t: RunTarget): Record<string, string> => ({
    GOD_PIDS: t.pids.join(' '),
    GOD_HOST: t.host,
    ...(fleetRedis ? { FG_REDIS_URL: fleetRedis.url, FG_PREFIX: fleetRedis.keys.prefix } : {}),
  });
  const failed: string[] = [];
  const changes: string[] = [];
  await mapLimit(targets, remote(pc)?.concurrency() ?? 1, async (t) => {
    const t0 = Date.now();
    pc.events.emit({
      type: 'host',
      step: 'run',
      host: t.host,
      phase: 'start',
      detail: a.command.trim().slice(0, 80),
    });
    let code: number | null;
    let out: string;
    try {
      if (t.deployHost) {
        const conn = await pc.pool().get(t.deployHost);
        const envs = Object.entries(extraEnv(t))
          .map(([k, v]) => `${k}=${shq(v)}`)
          .join(' ');
        const r = await conn.exec(`env ${envs} /bin/sh -c ${shq(a.command)}`, { timeoutMs });
        code = r.code;
        out = r.stdout + r.stderr;
      } else {
        ({ code, out } = await runLocal(a.command, { ...pc.env, ...extraEnv(t) }, pc.cwd, timeoutMs));
      }
    } catch (err) {
      code = null;
      out = (err as Error).message;
      if (t.deployHost) pc.pool().drop(t.deployHost);
    }
    const ok = code === a.expect_exit;
    const detail = `exit ${code ?? 'none'}${lastLine(out) ? `: ${lastLine(out)}` : ''}`;
    pc.events.emit({
      type: 'host',
      step: 'run',
      host: t.host,
      phase: 'end',
      ok,
      ...(ok ? { detail } : { error: `${detail} (expected exit ${a.expect_exit})` }),
      ms: Date.now() - t0,
    });
    changes.push(`ran on ${t.host}: ${detail}`);
    if (!ok) failed.push(`${t.host}: ${detail}`);
  });
  if (failed.length) {
    throw new UserError(
      `command failed on ${failed.length} of ${targets.length} host(s): ${failed.join('; ')}`,
      {
        code: 'GOD_RUN',
        hint: `The other hosts ran it. Try the command by hand: ${a.command.trim().slice(0, 120)}`,
      },
    );
  }
  return { changed: true, changes, detail: `${targets.length} host(s)` };
}

export const run = defineKind({
  kind: 'run',
  args: RunSchema,
  hint: 'run takes command, and role, hosts or ids to pick where it runs (GOD_PIDS holds the pids), and expect_exit.',
  example: { command: 'true' },
  defaultName: (a) => `run ${a.command.split('\n')[0]!.slice(0, 40)}`,
  timeout: '120s',
  // a command aimed at processes needs them running
  needsFleet: (a) => !!(a.role || a.ids),
  async plan(pc, s) {
    const targets = await runTargets(pc, s.args);
    return targets.map(
      (t) =>
        `run on ${t.host}: ${s.args.command.trim()}${t.pids.length ? ` (GOD_PIDS=${t.pids.join(' ')})` : ''}`,
    );
  },
  run: runCommand,
});
