// How a heartbeat is written and read under the Redis contract: every role's publisher (roles/runtime) writes it
// with queueHeartbeat, God (status, the dashboard) and the benches read it with readHeartbeats. The keys, the
// payload schema and the TTL are the contract's (redis-contract.ts).
import type { ChainableCommander, Redis } from 'ioredis';
import { HEARTBEAT_TTL_S, type Heartbeat, HeartbeatSchema, type RedisContract } from './redis-contract.ts';

/** The heartbeat index's member for a process: `role:id`. */
export const heartbeatMember = (p: { role: string; id: string }) => `${p.role}:${p.id}`;

/** Index members older than this are pruned; until then `god status` can name what went missing. */
export const HEARTBEAT_INDEX_KEEP_MS = 3600_000;

/** One beat: the heartbeat key (with its TTL, so a dead process disappears by itself) and its index entry. */
export function queueHeartbeat(
  p: ChainableCommander,
  keys: RedisContract,
  hb: Heartbeat,
  now: number = Date.now(),
): void {
  p.set(keys.heartbeat(hb.role, hb.id), JSON.stringify(hb), 'EX', HEARTBEAT_TTL_S);
  p.zadd(keys.heartbeatIndex, now, heartbeatMember(hb));
}

/** A process leaving on purpose: its key and its index entry go at once. */
export function queueHeartbeatRemoval(
  p: ChainableCommander,
  keys: RedisContract,
  proc: { role: string; id: string },
): void {
  p.del(keys.heartbeat(proc.role, proc.id));
  p.zrem(keys.heartbeatIndex, heartbeatMember(proc));
}

/** A stored heartbeat value, or undefined when it is not one (not JSON, or not the contract's shape). */
export function parseHeartbeat(value: string): Heartbeat | undefined {
  try {
    const r = HeartbeatSchema.safeParse(JSON.parse(value));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Every live heartbeat that matches the contract (a malformed value counts as none). Index members whose key
 * expired are kept for HEARTBEAT_INDEX_KEEP_MS, then pruned.
 */
export async function readHeartbeats(redis: Redis, keys: RedisContract): Promise<Heartbeat[]> {
  const members = await redis.zrange(keys.heartbeatIndex, 0, '-1');
  if (members.length === 0) return [];
  const vals = await redis.mget(
    members.map((m) => {
      const i = m.indexOf(':');
      return keys.heartbeat(m.slice(0, i), m.slice(i + 1));
    }),
  );
  const out: Heartbeat[] = [];
  for (const v of vals) {
    const hb = v ? parseHeartbeat(v) : undefined;
    if (hb) out.push(hb);
  }
  await redis.zremrangebyscore(keys.heartbeatIndex, 0, Date.now() - HEARTBEAT_INDEX_KEEP_MS).catch(() => {});
  return out;
}
