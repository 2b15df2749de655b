// One notion of "the process we are waiting for is there", shared by deploy health, waitHealthy (up, restart,
// provision), the playbook's `healthy` check and the status display:
//   - fresh: its heartbeat key was written recently, measured on Redis's clock (the key's remaining TTL), never
//     by comparing a host's `at` with God's clock;
//   - of the expected release version;
//   - after a change: a NEW process (pid/started_at differ from the heartbeat present when the change began), or
//     for a wait that does not replace processes, one that has beaten since the change began; both compare
//     heartbeats with each other, not clocks across machines;
//   - stable: it has written STABLE_BEATS beats (a process that beats once and crashes never gets there).
// A dead process's heartbeat stays in Redis for HEARTBEAT_TTL_S with a fresh `at`: none of these pass on it.
import type { Redis } from 'ioredis';
import { parseHeartbeat } from '../../protocol/heartbeats.ts';
import {
  HEARTBEAT_INTERVAL_MS,
  HEARTBEAT_TTL_S,
  type Heartbeat,
  type RedisContract,
  type Role,
} from '../../protocol/redis-contract.ts';

/** Older than this a heartbeat is stale: 2.5 beat intervals, i.e. two missed beats. */
export const STALE_AFTER_MS = 2.5 * HEARTBEAT_INTERVAL_MS;
/** Beats a process must have written to count as up after a change (it stayed up for two intervals). */
export const STABLE_BEATS = 3;

export const procKey = (p: { role: string; id: string }) => `${p.role}:${p.id}`;

/** A process's identity: a restart (same role and id) gives a new pid or start time. */
export const identityOf = (hb: Heartbeat) => `${hb.host}|${hb.pid}|${hb.started_at}`;

export interface Beat {
  hb: Heartbeat;
  /** ms since the key was last written, on Redis's clock */
  ageMs: number;
}

/**
 * Age of a heartbeat key from its remaining TTL (every beat sets it to HEARTBEAT_TTL_S): Redis's clock only.
 * A key with another TTL was not written by a role's publisher (by hand, another tool): aged by its `at`.
 */
export function beatAgeMs(hb: Heartbeat, pttlMs: number, now = Date.now()): number {
  const full = HEARTBEAT_TTL_S * 1000;
  if (pttlMs >= 0 && pttlMs <= full) return full - pttlMs;
  return Math.max(0, now - Date.parse(hb.at));
}

/** The current heartbeat of each process (key role:id), with its age; malformed beats count as none. */
export async function readBeats(
  redis: Redis,
  keys: RedisContract,
  procs: Array<{ role: Role | string; id: string }>,
): Promise<Map<string, Beat>> {
  const out = new Map<string, Beat>();
  if (procs.length === 0) return out;
  const p = redis.pipeline();
  for (const x of procs) p.get(keys.heartbeat(x.role, x.id)).pttl(keys.heartbeat(x.role, x.id));
  const res = (await p.exec()) ?? [];
  const now = Date.now();
  procs.forEach((x, i) => {
    const [e1, v] = res[2 * i] ?? [];
    const [e2, ttl] = res[2 * i + 1] ?? [];
    if (e1 || e2 || typeof v !== 'string') return;
    const hb = parseHeartbeat(v);
    if (hb) out.set(procKey(x), { hb, ageMs: beatAgeMs(hb, Number(ttl), now) });
  });
  return out;
}

/** The heartbeats present when a change began (taken just before it, or right after for waits in 'alive' mode). */
export interface ChangeMark {
  before: Map<string, { identity: string; pid: number; at: string; seq?: number }>;
}

export async function markChange(
  redis: Redis,
  keys: RedisContract,
  procs: Array<{ role: Role | string; id: string }>,
): Promise<ChangeMark> {
  const beats = await readBeats(redis, keys, procs);
  return {
    before: new Map(
      [...beats].map(([k, b]) => [
        k,
        { identity: identityOf(b.hb), pid: b.hb.pid, at: b.hb.at, seq: b.hb.seq },
      ]),
    ),
  };
}

export interface Want {
  version?: string;
  since?: ChangeMark;
  /**
   * new: a different process than the one beating when the change began (restart, deploy);
   * alive: any process that has beaten since the mark (up, provision, a wait after a kill).
   */
  mode?: 'new' | 'alive';
  /** default STABLE_BEATS */
  beats?: number;
  /** default STALE_AFTER_MS */
  maxAgeMs?: number;
}

export type Verdict =
  | { ok: true; pid: number; version: string }
  | { ok: false; state: 'missing' | 'stale' | 'version' | 'old' | 'unstable'; why: string };

/**
 * Judges heartbeats against a Want, poll after poll. Keeps the distinct beats it saw of each process: a
 * heartbeat without `seq` (an older release) is counted by watching its `at` change.
 */
export class Liveness {
  private readonly seen = new Map<string, Set<string>>();

  constructor(readonly want: Want) {}

  judge(key: string, beat: Beat | undefined): Verdict {
    const w = this.want;
    if (!beat) return { ok: false, state: 'missing', why: 'no heartbeat' };
    const { hb, ageMs } = beat;
    const maxAge = w.maxAgeMs ?? STALE_AFTER_MS;
    if (ageMs > maxAge) {
      return {
        ok: false,
        state: 'stale',
        why: `last beat ${(ageMs / 1000).toFixed(1)} s ago (pid ${hb.pid})`,
      };
    }
    if (w.version !== undefined && hb.version !== w.version) {
      return { ok: false, state: 'version', why: `heartbeat reports version ${hb.version}` };
    }
    const prev = w.since?.before.get(key);
    if (prev && identityOf(hb) === prev.identity) {
      if ((w.mode ?? 'new') === 'new') {
        return {
          ok: false,
          state: 'old',
          why: `no heartbeat from a new process (pid ${hb.pid} is the one from before the change)`,
        };
      }
      if (hb.at === prev.at && hb.seq === prev.seq) {
        return { ok: false, state: 'old', why: `pid ${hb.pid} has not beaten since the change began` };
      }
    }
    const id = identityOf(hb);
    let ats = this.seen.get(key);
    if (!ats?.has(`#${id}`)) {
      ats = new Set([`#${id}`]);
      this.seen.set(key, ats);
    }
    ats.add(hb.at);
    const count = hb.seq ?? ats.size - 1;
    const need = w.beats ?? STABLE_BEATS;
    if (count < need) {
      return { ok: false, state: 'unstable', why: `pid ${hb.pid} has beaten ${count} of ${need} times` };
    }
    return { ok: true, pid: hb.pid, version: hb.version };
  }
}
