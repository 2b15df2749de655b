// Is a restarted process healthy? A new process beats with the new release (liveness.ts), its /readyz says
// ready where God can reach it (readyz.ts), and an endpoint answers `connect`.
import net from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import type { Redis } from 'ioredis';
import { parseServerMessage } from '../../../protocol/messages.ts';
import type { RedisContract, Role } from '../../../protocol/redis-contract.ts';
import { type ChangeMark, Liveness, markChange, procKey, readBeats } from '../liveness.ts';
import { admitEndpoint, UNLISTED_ENV } from '../admission.ts';
import type { SshConnection } from '../ssh/connection.ts';
import { readReadyz } from '../readyz.ts';
import { logTail } from './host-ops.ts';
import type { DeployHost } from './types.ts';
import { sleep } from '../../../kernel/sleep.ts';

/** The heartbeats before a restart: health then waits for a new process of each (see liveness.ts). */
export function heartbeatStarts(
  redis: Redis,
  keys: RedisContract,
  procs: Array<{ role: Role; id: string }>,
): Promise<ChangeMark> {
  return markChange(redis, keys, procs);
}

/**
 * Wait until the process is healthy after a restart (liveness.ts): a new process (not the one beating before),
 * at `version`, beating freshly and stable (STABLE_BEATS beats: one that beats once and dies fails).
 * Resolves with an error text on timeout (never throws for an unhealthy process).
 */
export async function waitHeartbeat(
  redis: Redis,
  keys: RedisContract,
  p: { role: Role; id: string },
  version: string,
  before: ChangeMark,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<{ ok: true; pid: number; admin?: string } | { ok: false; error: string }> {
  const deadline = Date.now() + timeoutMs;
  const live = new Liveness({ version, since: before, mode: 'new' });
  let seen = 'no heartbeat';
  for (;;) {
    try {
      const beat = (await readBeats(redis, keys, [p])).get(procKey(p));
      const v = live.judge(procKey(p), beat);
      if (v.ok) return { ok: true, pid: v.pid, admin: beat?.hb.admin };
      seen = v.why;
    } catch (err) {
      seen = `Redis: ${(err as Error).message}`;
    }
    if (Date.now() >= deadline || signal?.aborted) {
      return {
        ok: false,
        error: `${p.role} ${p.id}: ${seen} after ${Math.round(timeoutMs / 1000)} s (expected version ${version})`,
      };
    }
    await sleep(150);
  }
}

/** How long an admitted endpoint gets to list itself (it looks for its admission every 200 ms). */
const LIST_WAIT_MS = 5000;

/** A deploy without health checks (--no-health): the operator vouches for the endpoints, they are admitted as is. */
export async function admitUnchecked(
  redis: Redis,
  keys: RedisContract,
  procs: DeployHost['processes'],
  version: string,
): Promise<void> {
  for (const p of procs) if (p.role === 'endpoint') await admitEndpoint(redis, keys, p.id, version);
}

/** How the check reaches host:port when not directly: a stream through the host's jump host (SshConnection.viaJump). */
export type Dial = (host: string, port: number) => Promise<Duplex> | undefined;

/** Connect like a client (directly, or through `dial`), send `connect`, expect `set_movies`. */
export async function checkEndpoint(
  target: { host: string; port: number; tls?: boolean },
  timeoutMs: number,
  dial?: Dial,
): Promise<{ ok: true } | { ok: false; error: string }> {
  const where = `${target.tls ? 'tls' : 'tcp'}://${target.host}:${target.port}`;
  let tunnel: Duplex | undefined;
  try {
    tunnel = await dial?.(target.host, target.port);
  } catch (err) {
    return { ok: false, error: `endpoint ${where} (through the jump host): ${(err as Error).message}` };
  }
  return new Promise((resolve) => {
    const sock: Duplex = target.tls
      ? tls.connect({
          ...(tunnel ? { socket: tunnel } : { host: target.host, port: target.port }),
          rejectUnauthorized: false,
        })
      : (tunnel ?? net.connect({ host: target.host, port: target.port }));
    let buf = '';
    let done = false;
    const finish = (r: { ok: true } | { ok: false; error: string }) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(r);
    };
    const timer = setTimeout(
      () => finish({ ok: false, error: `endpoint ${where}: no set_movies within ${timeoutMs} ms` }),
      timeoutMs,
    );
    const hello = () =>
      sock.write(
        `${JSON.stringify({ action: 'connect', params: { client: { app: 'god', version: 'health' } } })}\n`,
      );
    // a forwarded stream is open already; a socket or TLS session says when it is
    if (tunnel && !target.tls) hello();
    else sock.once(target.tls ? 'secureConnect' : 'connect', hello);
    sock.on('data', (d: Buffer) => {
      buf += d.toString('utf8');
      let i = buf.indexOf('\n');
      while (i >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        try {
          const m = parseServerMessage(JSON.parse(line));
          if (m.ok && m.message.action === 'set_movies') return finish({ ok: true });
          if (m.ok && m.message.action === 'error') {
            return finish({
              ok: false,
              error: `endpoint ${where} answered error ${m.message.params.code}: ${m.message.params.message}`,
            });
          }
        } catch {
          // not JSON: keep reading
        }
        i = buf.indexOf('\n');
      }
      if (buf.length > 1 << 20) finish({ ok: false, error: `endpoint ${where}: oversized line` });
    });
    sock.on('error', (err) => finish({ ok: false, error: `endpoint ${where}: ${err.message}` }));
    sock.on('close', () => finish({ ok: false, error: `endpoint ${where}: closed before set_movies` }));
  });
}

/** Retry the endpoint check until it passes or the deadline (the port opens a little after the beat). */
export async function waitEndpoint(
  target: { host: string; port: number; tls?: boolean },
  timeoutMs: number,
  dial?: Dial,
): Promise<{ ok: true } | { ok: false; error: string }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = deadline - Date.now();
    const r = await checkEndpoint(target, Math.max(500, Math.min(3000, left)), dial);
    if (r.ok || Date.now() >= deadline) return r;
    await sleep(200);
  }
}

/**
 * Wait for the process's /readyz to say ready. Unreachable (a listener on the host's loopback, seen from God's
 * machine, or one behind a token) is not a failure: the heartbeat, checked before, stays the judge.
 */
export async function waitReady(
  admin: string,
  timeoutMs: number,
): Promise<{ ok: true } | { ok: false; error: string }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await readReadyz(admin, Math.max(200, Math.min(1000, deadline - Date.now())));
    if (!r.reachable || r.ready) return { ok: true };
    if (Date.now() >= deadline) {
      return {
        ok: false,
        error: `not ready (/readyz at ${admin}): ${r.why.join('; ') || 'no reason given'}`,
      };
    }
    await sleep(250);
  }
}

/**
 * Health of the restarted processes of one host: a heartbeat with `version` from a new process, then
 * endpoints answer `connect`. Returns the problems (with each failed process's last log lines), or undefined.
 */
export async function healthOf(
  redis: Redis,
  keys: RedisContract,
  conn: SshConnection | undefined,
  host: DeployHost,
  procs: DeployHost['processes'],
  version: string,
  before: ChangeMark,
  timeoutMs: number,
): Promise<string | undefined> {
  const deadline = Date.now() + timeoutMs;
  const errors = (
    await Promise.all(
      procs.map(async (p) => {
        const hb = await waitHeartbeat(redis, keys, p, version, before, timeoutMs);
        if (!hb.ok) {
          const tail = conn ? await logTail(conn, host, p.id).catch(() => '') : '';
          return `${hb.error}${tail ? `\n    last log lines of ${p.id}:\n    ${tail.split('\n').join('\n    ')}` : ''}`;
        }
        if (hb.admin) {
          const r = await waitReady(hb.admin, Math.max(1000, deadline - Date.now()));
          if (!r.ok) return `${p.role} ${p.id}: ${r.error}`;
        }
        if (p.role === 'endpoint' && p.endpoint) {
          const target = {
            host: p.endpoint.host ?? host.address,
            port: p.endpoint.port,
            tls: p.endpoint.tls,
          };
          // a host behind ssh.jump is checked through the jump host, as God reaches its SSH
          const dial: Dial | undefined = conn ? (h, port) => conn.viaJump(h, port) : undefined;
          const r = await waitEndpoint(target, Math.max(1000, deadline - Date.now()), dial);
          if (!r.ok) return r.error;
          // healthy: only now may clients find it (admission.ts)
          const listed = await admitEndpoint(
            redis,
            keys,
            p.id,
            version,
            p.env[UNLISTED_ENV] ? LIST_WAIT_MS : 0,
          );
          if (!listed) return `${p.id}: healthy and admitted, but its record did not appear in the registry`;
        }
        return undefined;
      }),
    )
  ).filter(Boolean);
  return errors.length ? errors.join('\n') : undefined;
}
