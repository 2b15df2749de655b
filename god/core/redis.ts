// God's connection to the fleet's Redis: found through the provider (local: the private redis-server) or the
// config (one server or a Sentinel set: protocol/redis-connection.ts makes every connection); fails fast with a
// clear error instead of retrying forever like a role would.
import type { Redis, RedisOptions } from 'ioredis';
import { describeRedisDeployment, parseRedisDeployment } from '../../kernel/redis-deployment.ts';
import { createRedis, findMaster, RedisDeploymentError } from '../../protocol/redis-connection.ts';
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

/** God's policy: fail fast on the first connect; afterwards reconnect quickly (a `logs -f` survives a restart or
 * a failover; through sentinels it follows the master). READONLY (a demoted master) reconnects. */
function policy(name: string): RedisOptions {
  return {
    connectionName: name,
    lazyConnect: true,
    connectTimeout: 3000,
    maxRetriesPerRequest: 1,
    retryStrategy: (n: number) => Math.min(2000, 100 * 2 ** n),
    reconnectOnError: (err) => err.message.startsWith('READONLY'),
  };
}

/** The deployment's problem as God's error: a Cluster (not supported yet), an unknown master, no sentinel. */
async function checkDeployment(url: string, tlsCa?: string): Promise<void> {
  const d = parseRedisDeployment(url);
  if (d.kind === 'single') return;
  try {
    await findMaster(d, { tlsCa });
  } catch (err) {
    if (!(err instanceof RedisDeploymentError)) throw err;
    throw new UserError(`${describeRedisDeployment(d)}: ${err.message}`, {
      code: 'GOD_REDIS',
      hint:
        err.problem === 'cluster'
          ? 'Name one server (redis://) or a Sentinel set (redis+sentinel://) in redis.url / --redis.'
          : err.problem === 'unknown-master'
            ? 'Fix the master name after the sentinels in redis.url (`redis-cli -p 26379 SENTINEL masters` lists them).'
            : 'Start the sentinels, or fix their addresses in redis.url / --redis / GOD_REDIS_URL.',
    });
  }
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
  await checkDeployment(url, o.tlsCa);
  const redis = createRedis(url, { tlsCa: o.tlsCa }, policy(name));
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
      const r = createRedis(url, { tlsCa: o.tlsCa }, { ...policy(`${name}:${n}`), lazyConnect: false });
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
