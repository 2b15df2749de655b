// God's connection to the fleet's Redis: found through the provider (local: the private redis-server) or the
// config; fails fast with a clear error instead of retrying forever like a role would.
import fs from 'node:fs';
import { Redis } from 'ioredis';
import { type RedisContract, redisContract } from '../../protocol/redis-contract.ts';
import { UserError } from '../../kernel/errors.ts';
import { redactUrl } from '../../kernel/redact.ts';
import type { GodConfig } from './config/schema.ts';
import type { Provider } from './providers/types.ts';

export interface FleetRedis {
  url: string;
  redis: Redis;
  keys: RedisContract;
  /** another connection (blocking reads: XREAD BLOCK) */
  duplicate(name: string): Redis;
  close(): void;
}

export async function resolveRedisUrl(config: GodConfig, provider?: Provider, override?: string) {
  if (override) return override;
  return (await provider?.redisUrl?.()) ?? config.redis.url;
}

function options(url: string, name: string, tlsCa?: string) {
  const u = new URL(url);
  return {
    connectionName: name,
    lazyConnect: true,
    connectTimeout: 3000,
    maxRetriesPerRequest: 1,
    // after the first connect, reconnect quickly (a `logs -f` survives a Redis restart)
    retryStrategy: (n: number) => Math.min(2000, 100 * 2 ** n),
    ...(u.protocol === 'rediss:'
      ? { tls: { servername: u.hostname, ...(tlsCa ? { ca: fs.readFileSync(tlsCa) } : {}) } }
      : {}),
  };
}

/** Connect (and check with PING) or throw a UserError saying what to do. */
export async function connectFleetRedis(
  url: string | undefined,
  o: { prefix: string; tlsCa?: string; name?: string },
): Promise<FleetRedis> {
  if (!url) {
    throw new UserError('no Redis to talk to: the fleet is not running and the config names none', {
      code: 'GOD_NO_REDIS',
      hint: 'Start the local fleet with `god up`, or set redis.url in god.config.yaml (or --redis / GOD_REDIS_URL).',
    });
  }
  const name = o.name ?? 'god';
  const redis = new Redis(url, options(url, name, o.tlsCa));
  redis.on('error', () => {}); // reported through the failed commands below
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    redis.disconnect();
    throw new UserError(`cannot reach Redis at ${redactUrl(url)}: ${(err as Error).message}`, {
      code: 'GOD_NO_REDIS',
      hint: 'Is the fleet up (`god up`)? Check redis.url in the config, the password and the network.',
    });
  }
  const extra: Redis[] = [];
  return {
    url,
    redis,
    keys: redisContract(o.prefix),
    duplicate(n: string) {
      const r = new Redis(url, { ...options(url, `${name}:${n}`, o.tlsCa), lazyConnect: false });
      r.on('error', () => {});
      extra.push(r);
      return r;
    },
    close() {
      for (const r of extra) r.disconnect();
      redis.disconnect();
    },
  };
}
