// A heartbeat per process every 2 s, written as the Redis contract says (protocol/heartbeats.ts: a key with a
// TTL, so a dead process disappears by itself, and an index entry).
import type { Redis } from 'ioredis';
import { queueHeartbeat, queueHeartbeatRemoval } from '../../protocol/heartbeats.ts';
import {
  HEARTBEAT_INTERVAL_MS,
  type Heartbeat,
  type RedisContract,
  type Role,
} from '../../protocol/redis-contract.ts';
import { onReadyAgain } from './redis.ts';

// the reader lives with the writer's format; re-exported for the role's users (tests, benches)
export { readHeartbeats } from '../../protocol/heartbeats.ts';

export interface HeartbeatOptions {
  redis: Redis;
  keys: RedisContract;
  role: Role;
  id: string;
  host: string;
  version: string;
  gauges: () => Record<string, number>;
  /** the admin listener's `host:port`, when it is on */
  admin?: () => string | undefined;
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
    const admin = this.o.admin?.();
    return {
      ...(admin ? { admin } : {}),
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
    const { redis, keys } = this.o;
    if (redis.status !== 'ready') return; // no queueing of stale beats
    const hb = this.snapshot();
    try {
      const m = redis.multi();
      queueHeartbeat(m, keys, hb);
      await m.exec();
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
    const m = redis.multi();
    queueHeartbeatRemoval(m, keys, { role, id });
    await m.exec().catch(() => {});
  }
}
