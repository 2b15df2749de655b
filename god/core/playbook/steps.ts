// Step implementations. Each kind plans (what it would change, read-only: --dry-run prints it, a real run
// reports it as the step's changes) and runs through the same services as the CLI and TUI: operations.ts
// (up/down/restart), the deploy service, status/waitHealthy, endpoints (shed), the endpoint-list writer the
// keeper runs too (protocol/endpoint-list-writer.ts), the SSH layer.
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { endpointSetKey, parseEndpointList } from '../../../protocol/endpoint-list.ts';
import { ENDPOINT_TTL_S, type Role } from '../../../protocol/redis-contract.ts';
import { durationMs } from '../../../kernel/units.ts';
import { UserError } from '../../../kernel/errors.ts';
import { deploy } from '../deploy/deploy.ts';
import type { DeployHost, DeployResult } from '../deploy/types.ts';
import { batchSize, chunk, mapLimit } from '../deploy/util.ts';
import { listEndpoints, shedEndpoint } from '../endpoints.ts';
import { markChange } from '../liveness.ts';
import { downOp, restartOp, upOp, type WaitOptions } from '../operations.ts';
import { isRemoteProvider, type RemoteProvider } from '../providers/types.ts';
import type { ExpectedProcess } from '../providers/types.ts';
import { shq } from '../ssh/connection.ts';
import { getStatus, type ProcessStatus, waitHealthy } from '../status.ts';
import { archiveUrl } from './archive.ts';
import { type CheckMemo, closeMemo, describeConditions, evaluate } from './conditions.ts';
import type { PlayContext, StepOutcome } from './context.ts';
import type { Conditions, Step } from './schema.ts';
import { sleep } from '../../../kernel/sleep.ts';

/** Default deadline of each kind when the step gives no `timeout`. */
const DEFAULT_TIMEOUT: Record<Step['kind'], string> = {
  provision: '120s',
  deploy: '60s',
  restart: '120s',
  wait: '120s',
  shed: '30s',
  publish_endpoints: '30s',
  run: '120s',
  assert: '30s',
  down: '120s',
};

export const stepTimeoutMs = (s: Step): number => durationMs.parse(s.timeout ?? DEFAULT_TIMEOUT[s.kind]);

function waitOpts(pc: PlayContext, s: Step, wait: boolean): WaitOptions | undefined {
  return wait ? { redis: () => pc.redis(), timeoutMs: stepTimeoutMs(s), signal: pc.signal } : undefined;
}

/** Every process the provider expects, joined with heartbeats when Redis is reachable. */
async function liveStatus(pc: PlayContext): Promise<Map<string, ProcessStatus> | undefined> {
  const fr = await pc.tryRedis();
  if (!fr) return undefined;
  const st = await getStatus({ provider: pc.provider, redis: fr });
  return new Map(st.processes.map((p) => [p.id, p]));
}

const isUp = (live: Map<string, ProcessStatus> | undefined, id: string) => live?.get(id)?.state === 'up';
const numOf = (id: string) => Number(/-(\d+)$/.exec(id)?.[1] ?? Number.NaN);

async function localRunning(pc: PlayContext): Promise<boolean> {
  return (await pc.provider.machines()).some((m) => m.state === 'running');
}

function remote(pc: PlayContext): RemoteProvider | undefined {
  return isRemoteProvider(pc.provider) ? pc.provider : undefined;
}

const select = (p: ExpectedProcess, t: { role?: Role; ids?: string[] }) =>
  (!t.role || p.role === t.role) && (!t.ids || t.ids.includes(p.id));

// ---- provision ----

async function planProvision(pc: PlayContext, role: Role, count: number): Promise<string[]> {
  const changes: string[] = [];
  const live = await liveStatus(pc);
  const rp = remote(pc);
  if (rp && rp.kind === 'ssh') {
    // each host listed with the role runs one; the first `count` of them should run it
    const hosts = (await rp.deployHosts()).filter((h) => h.processes.some((p) => p.role === role));
    if (count > hosts.length) changes.push(`cannot: only ${hosts.length} host(s) list ${role}`);
    hosts.forEach((h, i) => {
      const id = h.processes.find((p) => p.role === role)!.id;
      if (i < count && !isUp(live, id)) changes.push(`start ${id} on ${h.name}`);
      if (i >= count && isUp(live, id)) changes.push(`stop ${id} on ${h.name}`);
    });
    return changes;
  }
  const have = (await pc.provider.expected()).filter((p) => p.role === role);
  if (pc.provider.kind === 'local' && !(await localRunning(pc))) {
    changes.push('start the local supervisor and its private redis-server');
  }
  if (pc.provider.kind === 'ec2') {
    if (have.length < count) changes.push(`create ${count - have.length} ${role} instance(s)`);
    if (have.length > count) changes.push(`terminate ${have.length - count} ${role} instance(s)`);
    return changes;
  }
  const nums = have.map((p) => numOf(p.id));
  for (let n = 1, added = 0; added < count - have.length; n++) {
    if (!nums.includes(n)) {
      changes.push(`start ${role}-${n}`);
      added++;
    }
  }
  const extra = [...have].sort((a, b) => numOf(a.id) - numOf(b.id)).slice(count);
  for (const p of extra) changes.push(`stop ${p.id}`);
  return changes;
}

// ---- deploy ----

function deployChanges(r: DeployResult): string[] {
  return r.hosts
    .filter((h) => h.status !== 'unchanged' && (h.previous !== r.version || h.restarted.length > 0))
    .map(
      (h) =>
        `${h.host}: ${h.previous ?? '(none)'} → ${r.version}${h.uploaded.length ? `; upload ${h.uploaded.join(', ')}` : ''}${
          h.restarted.length ? `; restart ${h.restarted.join(', ')}` : ''
        }`,
    );
}

async function remoteDeploy(
  pc: PlayContext,
  s: Step & { kind: 'deploy' },
  rp: RemoteProvider,
  dryRun: boolean,
) {
  const fr = await pc.redis();
  const a = s.args;
  return deploy({
    hosts: await rp.deployHosts(),
    ssh: rp.sshOptions(),
    pool: pc.pool(),
    redis: fr.redis,
    keys: fr.keys,
    roles: a.roles,
    version: a.version,
    bundleDir: a.bundle_dir ? path.resolve(pc.cwd, a.bundle_dir) : undefined,
    build: a.build,
    batch: a.batch,
    concurrency: rp.concurrency(),
    dryRun,
    healthTimeoutMs: stepTimeoutMs(s),
    noHealth: !a.health,
    events: pc.events,
    signal: pc.signal,
  });
}

/** The local fleet runs the working tree's sources: a deploy is a rolling restart with health checks. */
async function localDeployBatches(
  pc: PlayContext,
  s: Step & { kind: 'deploy' },
): Promise<ExpectedProcess[][]> {
  const procs = (await pc.provider.expected()).filter((p) => !s.args.roles || s.args.roles.includes(p.role));
  return chunk(procs, batchSize(s.args.batch, procs.length));
}

// ---- run ----

interface RunTarget {
  host: string;
  deployHost?: DeployHost;
  pids: number[];
}

async function runTargets(
  pc: PlayContext,
  a: Extract<Step, { kind: 'run' }>['args'],
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

// ---- publish_endpoints ----

function publishTarget(pc: PlayContext, target?: string): string {
  return archiveUrl(pc, target, 'publish_endpoints', 'target');
}

async function planPublish(pc: PlayContext, url: string): Promise<string[]> {
  const fr = await pc.tryRedis();
  if (!fr) return [`write the endpoint list to ${url} (the fleet's Redis is not up now)`];
  const { buildEndpointList } = await import('../../../protocol/endpoint-list.ts');
  const records = (await listEndpoints(fr)).endpoints.map(({ healthy: _h, age_s: _a, ...r }) => r);
  const list = buildEndpointList(records);
  const want = endpointSetKey(list);
  const shown = list.endpoints.map((e) => `${e.host}:${e.port}`).join(', ') || 'no endpoints';
  const have: string[] = [];
  const cur = await fr.redis.get(fr.keys.endpointList);
  try {
    have.push(cur ? endpointSetKey(parseEndpointList(cur)) : '');
  } catch {
    have.push('');
  }
  if (url.startsWith('file://')) {
    const fs = await import('node:fs');
    const { fileURLToPath } = await import('node:url');
    const { ENDPOINT_LIST_FILE } = await import('../../../protocol/endpoint-list.ts');
    const { parseArchiveUrl } = await import('../../../protocol/archive-target.ts');
    const t = parseArchiveUrl(url);
    const file = path.join(t.kind === 'file' ? t.dir : fileURLToPath(url), ENDPOINT_LIST_FILE);
    try {
      have.push(endpointSetKey(parseEndpointList(fs.readFileSync(file, 'utf8'))));
    } catch {
      have.push('');
    }
  }
  return have.every((h) => h === want) ? [] : [`write ${shown} to ${url} and Redis`];
}

async function publish(pc: PlayContext, url: string): Promise<string> {
  const fr = await pc.redis();
  const { EndpointListWriter } = await import('../../../protocol/endpoint-list-writer.ts');
  const { openTarget } = await import('../../../protocol/archive-target.ts');
  const target = openTarget(url, pc.env);
  try {
    const w = new EndpointListWriter({
      redis: fr.redis,
      keys: fr.keys,
      target,
      intervalMs: 0,
      // the step reports what it wrote itself
      log: { info() {}, warn() {} },
    });
    await w.tick();
    if (!w.current) throw new Error(`could not write the endpoint list to ${url}`);
    return `${w.current.endpoints.map((e) => `${e.host}:${e.port}`).join(', ') || 'no endpoints'} → ${url}`;
  } finally {
    target.close();
  }
}

// ---- checks ----

async function checkOnce(pc: PlayContext, c: Conditions, memo: CheckMemo, timeoutMs: number) {
  const res = await evaluate(pc, c, memo, timeoutMs);
  return { ok: res.every((r) => r.ok), res };
}

// ---- the kinds ----

/** What the step would change, read-only (a dry run prints it; a real run compares against it). */
export async function planStep(pc: PlayContext, s: Step): Promise<string[]> {
  switch (s.kind) {
    case 'provision':
      return planProvision(pc, s.args.role, s.args.count);
    case 'deploy': {
      const rp = remote(pc);
      if (rp) return deployChanges(await remoteDeploy(pc, s, rp, true));
      const batches = await localDeployBatches(pc, s);
      return batches.map(
        (b, i) => `batch ${i + 1}/${batches.length}: restart ${b.map((p) => p.id).join(', ')}`,
      );
    }
    case 'restart':
      return (await pc.provider.expected()).filter((p) => select(p, s.args)).map((p) => `restart ${p.id}`);
    case 'down': {
      const all = !s.args.role && !s.args.ids;
      const live = await liveStatus(pc);
      const procs = (await pc.provider.expected()).filter((p) => select(p, s.args));
      // an ssh inventory lists processes whether they run or not: only running ones change
      const changes = procs
        .filter((p) => pc.provider.kind !== 'ssh' || isUp(live, p.id))
        .map((p) => `stop ${p.id}`);
      if (all && pc.provider.kind === 'local' && (await localRunning(pc))) {
        changes.push('stop the private redis-server and the supervisor');
      }
      return changes;
    }
    case 'shed': {
      const fr = await pc.tryRedis();
      return [
        `ask ${s.args.endpoint === 'busiest' && fr ? await busiest(pc) : s.args.endpoint} to shed ${s.args.clients} client(s)`,
      ];
    }
    case 'publish_endpoints':
      return planPublish(pc, publishTarget(pc, s.args.target));
    case 'run': {
      const targets = await runTargets(pc, s.args);
      return targets.map(
        (t) =>
          `run on ${t.host}: ${s.args.command.trim()}${t.pids.length ? ` (GOD_PIDS=${t.pids.join(' ')})` : ''}`,
      );
    }
    case 'wait':
    case 'assert':
      return [];
  }
}

/**
 * The endpoint with the most clients. A record's count is as of the endpoint's last beat, so clients that
 * connected since are missing from it (an earlier step's clients can all look like 0 on one endpoint, and
 * "busiest" would pick the wrong one). With `fresh`, wait (up to ENDPOINT_TTL_S) until every listed endpoint
 * has rewritten its record since this call: detected by its `at` changing, so the clocks of remote hosts do
 * not matter. An endpoint that does not beat in time is judged on the record it has.
 */
async function busiest(pc: PlayContext, fresh = false): Promise<string> {
  const fr = await pc.redis();
  let rep = await listEndpoints(fr);
  if (fresh) {
    const before = new Map(rep.endpoints.map((e) => [e.id, e.at]));
    const until = Date.now() + ENDPOINT_TTL_S * 1000;
    while (
      rep.endpoints.some((e) => e.healthy && before.get(e.id) === e.at) &&
      Date.now() < until &&
      !pc.signal?.aborted
    ) {
      await new Promise((r) => setTimeout(r, 100));
      rep = await listEndpoints(fr);
    }
  }
  const live = rep.endpoints.filter((e) => e.healthy).sort((a, b) => b.clients - a.clients);
  if (!live[0]) {
    throw new UserError('shed: no healthy endpoint in the registry', {
      code: 'GOD_TARGET',
      hint: 'Start endpoints first (a provision step) and wait for them.',
    });
  }
  return live[0].id;
}

/** Run the step; throws (a UserError saying what to do) when it fails. */
export async function runStep(pc: PlayContext, s: Step): Promise<StepOutcome> {
  const ev = pc.events;
  switch (s.kind) {
    case 'provision': {
      const changes = await planProvision(pc, s.args.role, s.args.count);
      const rp = remote(pc);
      // an ssh inventory keeps listing the hosts a smaller count stopped: wait only for the ones kept
      const ssh = rp?.kind === 'ssh';
      const r = await upOp({
        provider: pc.provider,
        config: pc.config,
        role: s.args.role,
        count: s.args.count,
        wait: ssh ? undefined : waitOpts(pc, s, s.args.wait),
        events: ev,
      });
      if (ssh && s.args.wait) {
        const kept = (await rp!.deployHosts())
          .flatMap((h) =>
            h.processes.filter((p) => p.role === s.args.role).map((p) => ({ ...p, host: h.name })),
          )
          .slice(0, s.args.count);
        const fr = await pc.redis();
        // each kept process must beat after this mark: a dead process's leftover heartbeat does not count
        await waitHealthy(fr, kept, {
          timeoutMs: stepTimeoutMs(s),
          signal: pc.signal,
          since: await markChange(fr.redis, fr.keys, kept),
          mode: 'alive',
        });
        r.healthy = true;
      }
      return {
        changed: changes.length > 0,
        changes,
        detail: `${r.processes.filter((p) => p.role === s.args.role).length} ${s.args.role} process(es)${r.healthy ? ', all beating' : ''}`,
      };
    }
    case 'deploy': {
      const rp = remote(pc);
      if (rp) {
        const r = await remoteDeploy(pc, s, rp, false);
        const changes = deployChanges(r);
        if (!r.ok) {
          const bad = r.hosts.filter((h) => !h.ok);
          throw new UserError(
            `deploy ${r.version} failed on ${bad.map((h) => `${h.host} (${h.status}${h.error ? `: ${h.error.split('\n')[0]}` : ''})`).join(', ')}${
              r.stoppedAtBatch ? `; stopped at batch ${r.stoppedAtBatch}, which was rolled back` : ''
            }`,
            {
              code: 'GOD_DEPLOY',
              hint: bad.find((h) => h.hint)?.hint ?? 'See the host lines above; `god logs --host HOST`.',
            },
          );
        }
        return {
          changed: changes.length > 0,
          changes,
          detail: `release ${r.version} on ${r.hosts.length} host(s)`,
        };
      }
      if (s.args.version) {
        ev.emit({
          type: 'warn',
          message: `deploy: the local fleet runs this working tree; version ${s.args.version} is not applied`,
          hint: 'Locally a deploy is a rolling restart by batches with health checks.',
        });
      }
      const batches = await localDeployBatches(pc, s);
      const changes: string[] = [];
      for (const [i, b] of batches.entries()) {
        if (pc.signal?.aborted)
          throw new UserError('interrupted', { code: 'GOD_INTERRUPTED', hint: 'Run the play again.' });
        await restartOp({
          provider: pc.provider,
          ids: b.map((p) => p.id),
          wait: waitOpts(pc, s, s.args.health),
          events: ev,
        });
        changes.push(`batch ${i + 1}/${batches.length}: restarted ${b.map((p) => p.id).join(', ')}`);
      }
      return {
        changed: changes.length > 0,
        changes,
        detail: `${batches.flat().length} process(es) restarted`,
      };
    }
    case 'restart': {
      const changes = await planStep(pc, s);
      await restartOp({
        provider: pc.provider,
        role: s.args.role,
        ids: s.args.ids,
        wait: waitOpts(pc, s, s.args.wait),
        events: ev,
      });
      return { changed: changes.length > 0, changes };
    }
    case 'down': {
      const changes = await planStep(pc, s);
      await downOp({ provider: pc.provider, role: s.args.role, ids: s.args.ids, events: ev });
      return { changed: changes.length > 0, changes };
    }
    case 'shed': {
      const fr = await pc.redis();
      const id = s.args.endpoint === 'busiest' ? await busiest(pc, true) : s.args.endpoint;
      const r = await shedEndpoint(fr, id, s.args.clients, ev);
      return { changed: true, changes: [`asked ${r.endpoint} to shed ${r.clients} client(s)`] };
    }
    case 'publish_endpoints': {
      const url = publishTarget(pc, s.args.target);
      const changes = await planPublish(pc, url);
      const detail = await publish(pc, url);
      return { changed: changes.length > 0, changes, detail };
    }
    case 'run':
      return runCommand(pc, s);
    case 'assert': {
      const memo: CheckMemo = new Map();
      const { ok, res } = await checkOnce(pc, s.args, memo, stepTimeoutMs(s)).finally(() => closeMemo(memo));
      for (const r of res) {
        ev.emit({ type: r.ok ? 'info' : 'error', message: `${r.ok ? '✓' : '✗'} ${r.check}: ${r.detail}` });
      }
      if (!ok) {
        throw new UserError(
          `assertion failed: ${res
            .filter((r) => !r.ok)
            .map((r) => `${r.check}: ${r.detail}`)
            .join('; ')}`,
          {
            code: 'GOD_ASSERT',
            hint: 'See `god status`, `god endpoints` and `god logs --level warn` for why.',
          },
        );
      }
      return { changed: false, changes: [], detail: res.map((r) => r.detail).join('; ') };
    }
    case 'wait': {
      const timeoutMs = stepTimeoutMs(s);
      const until = Date.now() + timeoutMs;
      const memo: CheckMemo = new Map();
      try {
        for (;;) {
          const left = Math.max(1000, until - Date.now());
          const { ok, res } = await checkOnce(pc, s.args, memo, Math.min(left, 15_000));
          if (ok) return { changed: false, changes: [], detail: res.map((r) => r.detail).join('; ') };
          if (Date.now() >= until || pc.signal?.aborted) {
            throw new UserError(
              `still not true after ${Math.round(timeoutMs / 1000)} s: ${res
                .filter((r) => !r.ok)
                .map((r) => `${r.check}: ${r.detail}`)
                .join('; ')}`,
              {
                code: 'GOD_TIMEOUT',
                hint: 'Give the step a longer timeout if the fleet is just slow; else see `god status` and `god logs --level warn`.',
              },
            );
          }
          await sleep(500);
        }
      } finally {
        closeMemo(memo);
      }
    }
  }
}

async function runCommand(pc: PlayContext, s: Step & { kind: 'run' }): Promise<StepOutcome> {
  const a = s.args;
  const timeoutMs = stepTimeoutMs(s);
  const live = await liveStatus(pc);
  const targets = await runTargets(pc, a, live);
  if (a.role || a.ids) {
    // what the command was pointed at, as it beat before: `replaced` tells the new processes from these
    pc.targeted.set(
      s.index,
      (await pc.provider.expected())
        .filter((p) => select(p, a))
        .map((p) => {
          const l = live?.get(p.id);
          return {
            role: p.role,
            id: p.id,
            host: p.host,
            pid: l?.pid ?? null,
            started_at: l?.started_at ?? null,
          };
        }),
    );
  }
  const fr = await pc.tryRedis();
  const extraEnv = (t: RunTarget): Record<string, string> => ({
    GOD_PIDS: t.pids.join(' '),
    GOD_HOST: t.host,
    ...(fr ? { FG_REDIS_URL: fr.url, FG_PREFIX: fr.keys.prefix } : {}),
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

/** One line per step for the dry-run plan of checks. */
export function describeStep(s: Step): string[] {
  if (s.kind === 'wait')
    return [`wait up to ${s.timeout ?? DEFAULT_TIMEOUT.wait} for: ${describeConditions(s.args).join('; ')}`];
  if (s.kind === 'assert') return [`check: ${describeConditions(s.args).join('; ')}`];
  return [];
}
