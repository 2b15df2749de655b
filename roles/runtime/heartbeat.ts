// A heartbeat per process every 2 s, with a TTL so a dead process disappears by itself.
import type { Redis } from 'ioredis';
import {
  HEARTBEAT_INTERVAL_MS,
  HEARTBEAT_TTL_S,
  type Heartbeat,
  type RedisContract,
  type Role,
} from '../../protocol/redis-contract.ts';
import { onReadyAgain } from './redis.ts';

export interface HeartbeatOptions {
  redis: Redis;
  keys: RedisContract;
  role: Role;
  id: string;
  host: string;
  version: string;
  gauges: () => Record<string, number>;
  intervalMs?: number;
}

export class HeartbeatPublisher {
  private timer?: NodeJS.Timeout;
  private offReady?: () => void;
  private lastCpu = process.cpuUsage();
  private lastAt = process.hrtime.bigint();
  readonly startedAt = new Date().toISOString();
  beats = 0;

  constructor(private readonly o: HeartbeatOptions) {}

  start(): void {
    void this.beat();
    // Redis back (maybe restarted empty): beat now rather than up to an interval later
    this.offReady = onReadyAgain(this.o.redis, () => void this.beat());
    this.timer = setInterval(() => void this.beat(), this.o.intervalMs ?? HEARTBEAT_INTERVAL_MS);
    this.timer.unref();
  }

  snapshot(): Heartbeat {
    const now = process.hrtime.bigint();
    const cpu = process.cpuUsage(this.lastCpu);
    const wallUs = Number(now - this.lastAt) / 1000;
    this.lastCpu = process.cpuUsage();
    this.lastAt = now;
    const g = this.o.gauges();
    return {
      role: this.o.role,
      id: this.o.id,
      host: this.o.host,
      pid: process.pid,
      version: this.o.version,
      started_at: this.startedAt,
      at: new Date().toISOString(),
      rss: process.memoryUsage.rss(),
      cpu: wallUs > 0 ? Math.round(((cpu.user + cpu.system) / wallUs) * 1000) / 10 : 0,
      gauges: Object.fromEntries(Object.entries(g).filter(([, v]) => Number.isFinite(v))),
      seq: this.beats + 1,
    };
  }

  async beat(): Promise<void> {
    const { redis, keys, role, id } = this.o;
    if (redis.status !== 'ready') return; // no queueing of stale beats
    const hb = this.snapshot();
    try {
      await redis
        .multi()
        .set(keys.heartbeat(role, id), JSON.stringify(hb), 'EX', HEARTBEAT_TTL_S)
        .zadd(keys.heartbeatIndex, Date.now(), `${role}:${id}`)
        .exec();
      this.beats++;
    } catch {
      // Redis is away; the next beat tries again.
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.offReady?.();
    const { redis, keys, role, id } = this.o;
    if (redis.status !== 'ready') return;
    await redis
      .multi()
      .del(keys.heartbeat(role, id))
      .zrem(keys.heartbeatIndex, `${role}:${id}`)
      .exec()
      .catch(() => {});
  }
}

/** Every live heartbeat (stale index members are pruned as they are found). */
export async function readHeartbeats(redis: Redis, keys: RedisContract): Promise<Heartbeat[]> {
  const members = await redis.zrange(keys.heartbeatIndex, 0, '-1');
  if (members.length === 0) return [];
  const ids = members.map((m) => {
    const i = m.indexOf(':');
    return [m.slice(0, i), m.slice(i + 1)] as const;
  });
  const vals = await redis.mget(ids.map(([r, i]) => keys.heartbeat(r, i)));
  const out: Heartbeat[] = [];
  const stale: string[] = [];
  vals.forEach((v, i) => {
    if (v) out.push(JSON.parse(v) as Heartbeat);
    else stale.push(members[i]!);
  });
  // keep stale members for a while so `god status` can name what went missing; prune after an hour
  await redis.zremrangebyscore(keys.heartbeatIndex, 0, Date.now() - 3600_000).catch(() => {});
  return out;
}
