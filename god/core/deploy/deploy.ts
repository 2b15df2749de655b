// `god deploy`: ship the role bundles to every host, switch `current`, restart, health-check; rolling by batches.
import { UserError } from '../../../kernel/errors.ts';
import { formatBytes } from '../../../kernel/units.ts';
import { nullSink, timedStep } from '../events.ts';
import type { SshConnection } from '../ssh/connection.ts';
import { SshPool } from '../ssh/pool.ts';
import { admitUnchecked, healthOf, heartbeatStarts } from './health.ts';
import {
  activate,
  agent,
  type HostPlan,
  installRuntime,
  planHost,
  switchRelease,
  uploadFiles,
} from './host-ops.ts';
import { DeployLock } from './lock.ts';
import { type LocalRelease, loadRelease } from './release.ts';
import { readState } from './remote-state.ts';
import { cachedRuntime, type RuntimePin } from './runtime.ts';
import type { DeployHost, DeployResult, HostResult, ProcessMode, RemoteRunOptions } from './types.ts';
import { batchSize, chunk, errorFields, hostsRunning, mapLimit, newHostResult } from './util.ts';

export interface DeployOptions extends RemoteRunOptions {
  version?: string;
  bundleDir?: string;
  build?: boolean;
  /** hosts per batch: N or "N%" */
  batch?: string | number;
  /** aborted (Ctrl-C): the batch under way finishes, the next ones are skipped */
  signal?: AbortSignal;
  /** the Node the release carries (default: runtime-pin.json) */
  runtime?: RuntimePin;
  /**
   * Hosts stand alone (the new instances of an ec2 `up`): one failing its health check is rolled back by
   * itself and the others go on, instead of the whole batch rolling back and the rollout stopping.
   */
  independent?: boolean;
}

interface HostRun {
  host: DeployHost;
  res: HostResult;
  conn?: SshConnection;
  plan?: HostPlan;
  /** `current` was switched on the host (a rollback has something to undo) */
  activated: boolean;
  healthy: boolean;
}

export function planSummary(p: HostPlan): string {
  if (p.noop) return `already at ${p.version}: nothing to do`;
  const parts = [`${p.previous ?? '(none)'} → ${p.version}`];
  if (p.upload.length)
    parts.push(
      `upload ${p.upload.map((f) => f.name).join(', ')} (${formatBytes(p.upload.reduce((a, f) => a + f.bytes, 0))})`,
    );
  if (p.reuse.length) parts.push(`reuse ${p.reuse.map(([, n]) => n).join(', ')}`);
  if (p.unchanged.length) parts.push(`${p.unchanged.length} unchanged`);
  if (p.restart.length) parts.push(`restart ${p.restart.join(', ')}`);
  if (p.stop.length) parts.push(`stop ${p.stop.join(', ')}`);
  parts.push(
    p.runtime.install
      ? `install Node ${p.runtime.version} (${p.runtime.name}, ${formatBytes(p.runtime.bytes)})`
      : `Node ${p.runtime.version}`,
  );
  return parts.join('; ');
}

/** Select the hosts a deploy touches and the release it ships. */
export function prepareRelease(
  o: Pick<DeployOptions, 'hosts' | 'roles' | 'bundleDir' | 'version' | 'build' | 'runtime'>,
): {
  hosts: DeployHost[];
  release: LocalRelease;
} {
  const hosts = hostsRunning(o.hosts, o.roles);
  if (hosts.length === 0) {
    throw new UserError(`no host runs ${o.roles?.join(', ') ?? 'any role'}`, {
      code: 'GOD_DEPLOY_NO_HOSTS',
      hint: 'Check the roles of the hosts in the inventory (god.config.yaml) and --roles.',
    });
  }
  const all = [...new Set(hosts.flatMap((h) => h.processes.map((p) => p.role)))];
  const deploying = o.roles ? all.filter((r) => o.roles!.includes(r)) : all;
  const release = loadRelease({
    roles: deploying,
    optionalRoles: all,
    bundleDir: o.bundleDir,
    version: o.version,
    build: o.build,
    runtime: o.runtime,
  });
  return { hosts, release };
}

export async function deploy(o: DeployOptions): Promise<DeployResult> {
  const t0 = Date.now();
  const ev = o.events ?? nullSink;
  const keep = o.keep ?? 5;
  const mode = o.mode ?? 'auto';
  const healthMs = o.healthTimeoutMs ?? 30_000;
  const { hosts, release } = prepareRelease(o);
  const version = release.version;
  const pool = o.pool ?? new SshPool(o.ssh);
  const batches = chunk(hosts, batchSize(o.batch, hosts.length));
  const runs = new Map<string, HostRun>(
    hosts.map((h) => [h.name, { host: h, res: newHostResult(h.name), activated: false, healthy: false }]),
  );
  const result: DeployResult = {
    version,
    ok: false,
    dryRun: !!o.dryRun,
    batches: batches.map((b) => b.map((h) => h.name)),
    hosts: [...runs.values()].map((r) => r.res),
    ms: 0,
  };
  const stepName = o.dryRun ? 'deploy (dry run)' : 'deploy';
  ev.emit({ type: 'step', step: stepName, phase: 'start' });
  ev.emit({
    type: 'info',
    message: `release ${version}: ${release.files.map((f) => f.name).join(', ')} on Node ${release.runtime.version}`,
    data: { version, hosts: hosts.length, batches: batches.length },
  });

  let lock: DeployLock | undefined;
  try {
    if (!o.dryRun) {
      lock = await timedStep(ev, 'lock', () =>
        DeployLock.acquire(o.redis, o.keys, {
          owner: o.owner,
          what: `deploy ${version}`,
          ttlMs: o.lockTtlMs,
          waitMs: o.lockWaitMs,
          signal: o.signal,
          events: ev,
        }),
      );
    }
    for (let b = 0; b < batches.length; b++) {
      if (o.signal?.aborted) {
        ev.emit({
          type: 'warn',
          message: `deploy interrupted: batches ${b + 1}-${batches.length} skipped`,
          hint: 'Run the deploy again to finish the rollout.',
        });
        break;
      }
      const batch = batches[b]!.map((h) => runs.get(h.name)!);
      const bStep = `batch ${b + 1}/${batches.length}`;
      const bt = Date.now();
      ev.emit({ type: 'step', step: bStep, phase: 'start' });
      await mapLimit(batch, o.concurrency ?? 10, (run) =>
        deployHost(run, o, release, pool, { keep, mode, healthMs }),
      );
      const bad = batch.filter((r) => r.activated && !r.healthy);
      if (bad.length && !o.dryRun && o.independent) {
        await mapLimit(bad, o.concurrency ?? 10, (run) => rollbackHost(run, o, { keep, mode, healthMs }));
      } else if (bad.length && !o.dryRun) {
        result.stoppedAtBatch = b + 1;
        ev.emit({
          type: 'error',
          message: `health check failed on ${bad.map((r) => r.host.name).join(', ')}: rolling back batch ${b + 1} and stopping the rollout`,
        });
        await mapLimit(
          batch.filter((r) => r.activated),
          o.concurrency ?? 10,
          (run) => rollbackHost(run, o, { keep, mode, healthMs }),
        );
        ev.emit({
          type: 'step',
          step: bStep,
          phase: 'end',
          ok: false,
          error: 'health check failed; batch rolled back',
          ms: Date.now() - bt,
        });
        break;
      }
      const okAll = batch.every((r) => r.res.ok);
      ev.emit({ type: 'step', step: bStep, phase: 'end', ok: okAll, ms: Date.now() - bt });
      if (lock?.lost) {
        throw new UserError(
          'lost the deploy lock during the rollout (Redis unreachable or the lock was broken); stopped',
          {
            code: 'GOD_DEPLOY_LOCK_LOST',
            hint: 'Check Redis and who deploys now (`god status`), then run the deploy again.',
          },
        );
      }
    }
  } finally {
    await lock?.release();
    if (!o.pool) await pool.closeAll();
    result.ms = Date.now() - t0;
    result.ok = result.hosts.every((h) => h.ok);
    ev.emit({ type: 'step', step: stepName, phase: 'end', ok: result.ok, ms: result.ms });
  }
  return result;
}

async function deployHost(
  run: HostRun,
  o: DeployOptions,
  release: LocalRelease,
  pool: SshPool,
  s: { keep: number; mode: ProcessMode; healthMs: number },
): Promise<void> {
  const ev = o.events ?? nullSink;
  const { host, res } = run;
  const t0 = Date.now();
  let step = 'connect';
  const hostEv = (phase: 'start' | 'progress' | 'end', extra: Record<string, unknown> = {}) =>
    ev.emit({ type: 'host', step, host: host.name, phase, ...extra });
  try {
    hostEv('start');
    const conn = await pool.get(host);
    run.conn = conn;
    step = 'plan';
    const st = await readState(conn, host, release.version, !o.dryRun);
    const plan = planHost(host, st, release, o.roles);
    run.plan = plan;
    res.previous = st.current;
    res.current = st.current;
    res.uploaded = plan.upload.map((f) => f.name);
    res.reused = plan.reuse.map(([, n]) => n);
    res.unchanged = plan.unchanged;
    res.bytes = plan.upload.reduce((a, f) => a + f.bytes, 0);
    res.runtime = plan.runtime.name;
    if (plan.runtime.install) {
      res.runtimeInstalled = true;
      res.bytes += plan.runtime.bytes;
    }
    res.restarted = plan.restart;
    hostEv('end', { ok: true, detail: planSummary(plan), ms: Date.now() - t0 });
    if (o.dryRun) {
      res.status = 'planned';
      res.ok = true;
      return;
    }
    if (plan.noop) {
      res.status = 'unchanged';
      res.ok = true;
      return;
    }
    if (plan.upload.length || plan.runtime.install) {
      step = 'upload';
      const tu = Date.now();
      // fetched (once, whatever the number of hosts) and verified before a byte goes out
      const rt = plan.runtime.install
        ? await cachedRuntime(release.runtime, plan.runtime.arch, {
            log: (message) => ev.emit({ type: 'info', message }),
          })
        : undefined;
      const n = plan.upload.length + (rt ? 1 : 0);
      hostEv('start', { detail: `${n} files, ${formatBytes(res.bytes)}`, progress: 0 });
      await uploadFiles(
        conn,
        host,
        plan,
        (done, total, file) => hostEv('progress', { progress: total ? done / total : 1, detail: file }),
        rt,
      );
      if (rt) await installRuntime(conn, host, rt);
      hostEv('end', { ok: true, ms: Date.now() - tu, detail: `${formatBytes(res.bytes)}` });
    }
    step = 'activate';
    const ta = Date.now();
    hostEv('start');
    const procs = host.processes.filter((p) => plan.restart.includes(p.id));
    const before = o.noHealth ? { before: new Map() } : await heartbeatStarts(o.redis, o.keys, procs);
    run.activated = true;
    const out = await activate(
      conn,
      host,
      { ...plan, runtime: plan.runtime.name },
      { keep: s.keep, mode: s.mode, killMs: o.killMs },
    );
    res.current = release.version;
    hostEv('end', {
      ok: true,
      ms: Date.now() - ta,
      detail: `current → ${release.version} (${String(out.mode)}, Node ${String(out.node)}); restarted ${plan.restart.join(', ') || 'nothing'}${(out.pruned as string[])?.length ? `; pruned ${(out.pruned as string[]).join(', ')}` : ''}`,
    });
    if (!o.noHealth && procs.length) {
      step = 'health';
      const th = Date.now();
      hostEv('start', { progress: 0 });
      const err = await healthOf(o.redis, o.keys, conn, host, procs, release.version, before, s.healthMs);
      if (err)
        throw new UserError(err, {
          code: 'GOD_DEPLOY_HEALTH',
          hint:
            'The batch is rolled back; look at the log lines above or `god logs --host ' + host.name + '`.',
        });
      hostEv('end', { ok: true, progress: 1, ms: Date.now() - th, detail: `${procs.length} healthy` });
    } else if (o.noHealth) await admitUnchecked(o.redis, o.keys, procs, release.version);
    run.healthy = true;
    res.status = 'deployed';
    res.ok = true;
  } catch (err) {
    const f = errorFields(err);
    res.status = 'failed';
    res.ok = false;
    Object.assign(res, f);
    hostEv('end', { ok: false, error: f.error, ms: Date.now() - t0 });
    if (step === 'connect') pool.drop(host);
  } finally {
    res.ms = Date.now() - t0;
  }
}

/** Put one host of a failed batch back on its previous release (or stop what a first deploy started). */
async function rollbackHost(
  run: HostRun,
  o: DeployOptions,
  s: { keep: number; mode: ProcessMode; healthMs: number },
): Promise<void> {
  const ev = o.events ?? nullSink;
  const { host, res, plan } = run;
  const t0 = Date.now();
  ev.emit({
    type: 'host',
    step: 'rollback',
    host: host.name,
    phase: 'start',
    detail: `→ ${plan?.previous ?? '(nothing)'}`,
  });
  const healthError = res.error;
  try {
    const conn = run.conn!;
    if (!plan) throw new Error('no plan');
    const procs = host.processes.filter((p) => plan.restart.includes(p.id));
    if (plan.previous) {
      const before = await heartbeatStarts(o.redis, o.keys, procs);
      await switchRelease(
        conn,
        host,
        {
          version: plan.previous,
          roles: o.roles,
          restart: plan.restart,
          // a release that failed its health check is no rollback target (unless it was running before)
          forget: plan.version !== plan.previous ? [plan.version] : [],
        },
        { keep: s.keep, mode: s.mode, killMs: o.killMs },
      );
      res.current = plan.previous;
      // the known-good release gets the full wait even when the deploy's own timeout is short
      if (o.noHealth) await admitUnchecked(o.redis, o.keys, procs, plan.previous);
      const err = o.noHealth
        ? undefined
        : await healthOf(
            o.redis,
            o.keys,
            conn,
            host,
            procs,
            plan.previous,
            before,
            Math.max(s.healthMs, 30_000),
          );
      if (err) throw new Error(`rolled back to ${plan.previous} but it is not healthy either: ${err}`);
    } else {
      await agent(conn, host, { cmd: 'deactivate', ids: plan.restart }, { mode: s.mode, killMs: o.killMs });
      res.current = null;
    }
    res.status = 'rolled_back';
    res.ok = false;
    res.error = healthError ?? `rolled back with its batch (another host failed its health check)`;
    ev.emit({
      type: 'host',
      step: 'rollback',
      host: host.name,
      phase: 'end',
      ok: true,
      ms: Date.now() - t0,
      detail: `current → ${plan.previous ?? '(none: processes stopped)'}`,
    });
  } catch (err) {
    const f = errorFields(err);
    res.status = 'failed';
    res.ok = false;
    res.error = `${healthError ? `${healthError}; ` : ''}rollback failed: ${f.error}`;
    ev.emit({
      type: 'host',
      step: 'rollback',
      host: host.name,
      phase: 'end',
      ok: false,
      error: f.error,
      ms: Date.now() - t0,
    });
  }
}
