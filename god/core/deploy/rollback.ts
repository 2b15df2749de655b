// `god rollback [VERSION]`: switch every host back to a release it still has (default: the one before
// `current` in its history), restart and health-check. No upload: the last 5 releases stay on each host.
import { UserError } from '../../../kernel/errors.ts';
import { nullSink } from '../events.ts';
import { SshPool } from '../ssh/pool.ts';
import { admitUnchecked, healthOf, heartbeatStarts } from './health.ts';
import { switchRelease } from './host-ops.ts';
import { DeployLock } from './lock.ts';
import { checkVersion } from './release.ts';
import { type RemoteState, readState } from './remote-state.ts';
import type { DeployResult, RemoteRunOptions } from './types.ts';
import { errorFields, hostsRunning, mapLimit, newHostResult } from './util.ts';

export interface RollbackOptions extends RemoteRunOptions {
  /** default: each host's release before `current` */
  version?: string;
}

/** The release to go back to on a host, or an error naming what it has. */
export function rollbackTarget(host: string, st: RemoteState, version?: string): string {
  const have = [...st.releases.keys()];
  if (version) {
    if (!st.releases.has(version)) {
      throw new UserError(
        `release ${version} is not on ${host} (it has: ${have.sort().join(', ') || 'none'})`,
        {
          code: 'GOD_ROLLBACK_MISSING',
          hint: `Pick one of those, or deploy ${version} again with \`god deploy --version ${version}\`.`,
        },
      );
    }
    return version;
  }
  for (let i = st.history.length - 1; i >= 0; i--) {
    const v = st.history[i]!;
    if (v !== st.current && st.releases.has(v)) return v;
  }
  throw new UserError(`${host} has no release to roll back to (current: ${st.current ?? 'none'})`, {
    code: 'GOD_ROLLBACK_NONE',
    hint: 'Only releases deployed before (the last 5) can be rolled back to; deploy a fixed release instead.',
  });
}

export async function rollback(o: RollbackOptions): Promise<DeployResult> {
  const t0 = Date.now();
  const ev = o.events ?? nullSink;
  if (o.version) checkVersion(o.version);
  const hosts = hostsRunning(o.hosts, o.roles);
  const pool = o.pool ?? new SshPool(o.ssh);
  const results = hosts.map((h) => newHostResult(h.name));
  const step = o.dryRun ? 'rollback (dry run)' : 'rollback';
  ev.emit({ type: 'step', step, phase: 'start' });
  let lock: DeployLock | undefined;
  try {
    if (!o.dryRun) {
      lock = await DeployLock.acquire(o.redis, o.keys, {
        owner: o.owner,
        what: `rollback${o.version ? ` to ${o.version}` : ''}`,
        ttlMs: o.lockTtlMs,
        waitMs: o.lockWaitMs,
        events: ev,
      });
    }
    await mapLimit(hosts, o.concurrency ?? 10, async (host, i) => {
      const res = results[i]!;
      const th = Date.now();
      let sub = 'connect';
      const hostEv = (
        phase: 'start' | 'end',
        extra: { ok?: boolean; detail?: string; error?: string } = {},
      ) => ev.emit({ type: 'host', step: sub, host: host.name, phase, ...extra });
      try {
        hostEv('start');
        const conn = await pool.get(host);
        sub = 'plan';
        const st = await readState(conn, host, undefined, false);
        const target = rollbackTarget(host.name, st, o.version);
        const procs = host.processes.filter((p) => !o.roles || o.roles.includes(p.role));
        res.previous = st.current;
        res.current = st.current;
        res.restarted = procs.map((p) => p.id);
        hostEv('end', {
          ok: true,
          detail: `${st.current ?? '(none)'} → ${target}; restart ${res.restarted.join(', ')}`,
        });
        if (o.dryRun) {
          res.status = 'planned';
          res.ok = true;
          return;
        }
        sub = 'activate';
        const before = o.noHealth ? { before: new Map() } : await heartbeatStarts(o.redis, o.keys, procs);
        await switchRelease(
          conn,
          host,
          { version: target, roles: o.roles, restart: res.restarted },
          { keep: o.keep ?? 5, mode: o.mode ?? 'auto', killMs: o.killMs },
        );
        res.current = target;
        hostEv('end', { ok: true, detail: `current → ${target}` });
        if (!o.noHealth && procs.length) {
          sub = 'health';
          hostEv('start');
          const err = await healthOf(
            o.redis,
            o.keys,
            conn,
            host,
            procs,
            target,
            before,
            o.healthTimeoutMs ?? 30_000,
          );
          if (err)
            throw new UserError(err, {
              code: 'GOD_DEPLOY_HEALTH',
              hint: `See \`god logs --host ${host.name}\`.`,
            });
          hostEv('end', { ok: true });
        } else if (o.noHealth) await admitUnchecked(o.redis, o.keys, procs, target);
        res.status = 'deployed';
        res.ok = true;
      } catch (err) {
        res.status = 'failed';
        Object.assign(res, errorFields(err));
        hostEv('end', { ok: false, error: res.error });
        if (sub === 'connect') pool.drop(host);
      } finally {
        res.ms = Date.now() - th;
      }
    });
  } finally {
    await lock?.release();
    if (!o.pool) await pool.closeAll();
  }
  const result: DeployResult = {
    version: o.version ?? 'previous',
    ok: results.every((r) => r.ok),
    dryRun: !!o.dryRun,
    batches: [hosts.map((h) => h.name)],
    hosts: results,
    ms: Date.now() - t0,
  };
  ev.emit({ type: 'step', step, phase: 'end', ok: result.ok, ms: result.ms });
  return result;
}
