// Redis connections for roles: reconnect forever with capped, jittered backoff; TLS and passwords from the URL,
// one server or a Sentinel set (every connection follows a failover), made by protocol/redis-connection.ts.
import type { Redis, RedisOptions } from 'ioredis';
import { describeRedisDeployment, parseRedisDeployment } from '../../kernel/redis-deployment.ts';
import { UserError } from '../../kernel/errors.ts';
import { createRedis, findMaster, RedisDeploymentError } from '../../protocol/redis-connection.ts';
import type { CommonConfig } from './config.ts';

export interface RedisConnectOptions {
  /** connection name shown in CLIENT LIST */
  name: string;
  tlsCa?: string;
  tlsInsecure?: boolean;
  /**
   * false: commands fail at once while disconnected (callers that keep their own bounded buffer).
   * true (default): commands wait in ioredis' queue for the reconnect.
   */
  offlineQueue?: boolean;
  onStatus?: (status: 'ready' | 'down', err?: Error) => void;
  /** a failed attempt while not connected (e.g. every sentinel unreachable) */
  onProblem?: (err: Error) => void;
}

/** Backoff between reconnect attempts: 100 ms doubling to 5 s, ±25 % jitter. */
export function reconnectDelay(attempt: number): number {
  const base = Math.min(5000, 100 * 2 ** Math.min(attempt, 10));
  return Math.round(base * (0.75 + Math.random() * 0.5));
}

/** The roles' policy: reconnect forever; READONLY (a demoted master) reconnects, through the sentinels when there are. */
export function redisOptions(o: RedisConnectOptions): RedisOptions {
  return {
    connectionName: o.name,
    lazyConnect: false,
    retryStrategy: (times) => reconnectDelay(times),
    // reconnect after READONLY (failover: the server became a replica) instead of failing commands
    reconnectOnError: (err) => err.message.startsWith('READONLY'),
    enableOfflineQueue: o.offlineQueue !== false,
    maxRetriesPerRequest: o.offlineQueue === false ? 0 : null,
    autoResubscribe: true,
    connectTimeout: 5000,
  };
}

/** A connection to the deployment `target` names (one server or a Sentinel set: protocol/redis-connection.ts). */
export function connectRedis(target: string, o: RedisConnectOptions): Redis {
  const policy = redisOptions(o);
  if (parseRedisDeployment(target).kind === 'sentinel') {
    // through sentinels a reconnect asks them first, which is cheap, and a failover is over in seconds: do not
    // back off past 1 s (the feeder's publisher would be on the new master long before the endpoint's subscriber)
    policy.retryStrategy = (times) => Math.min(1000, reconnectDelay(times));
  }
  const r = createRedis(target, { tlsCa: o.tlsCa, tlsInsecure: o.tlsInsecure }, policy);
  let up = false;
  r.on('ready', () => {
    up = true;
    o.onStatus?.('ready');
  });
  // ioredis emits 'error' on every failed attempt; without a listener Node would crash the process.
  r.on('error', (err) => {
    if (up) {
      up = false;
      o.onStatus?.('down', err);
    } else o.onProblem?.(err);
  });
  r.on('end', () => {
    if (up) {
      up = false;
      o.onStatus?.('down');
    }
  });
  return r;
}

export function connectFromConfig(cfg: CommonConfig, name: string, extra: Partial<RedisConnectOptions> = {}) {
  return connectRedis(cfg.redis, {
    name,
    tlsCa: cfg.redisTlsCa,
    tlsInsecure: cfg.redisTlsInsecure,
    ...extra,
  });
}

/**
 * Before a role connects: a Cluster (not supported yet) or a Sentinel set that knows no master of the configured
 * name is a configuration error (UserError FG_REDIS: the role exits 2 saying so); sentinels that do not answer
 * yet are only reported (`onUnreachable`), the connections keep asking them.
 */
export async function checkDeployment(
  cfg: Pick<CommonConfig, 'redis' | 'redisTlsCa' | 'redisTlsInsecure'>,
  onUnreachable: (message: string) => void,
): Promise<void> {
  const d = parseRedisDeployment(cfg.redis);
  if (d.kind === 'single') return;
  try {
    await findMaster(d, { tlsCa: cfg.redisTlsCa, tlsInsecure: cfg.redisTlsInsecure });
  } catch (err) {
    if (!(err instanceof RedisDeploymentError)) throw err;
    if (err.problem === 'no-sentinel') {
      onUnreachable(`${describeRedisDeployment(d)}: ${err.message}; retrying`);
      return;
    }
    throw new UserError(`--redis / FG_REDIS_URL: ${describeRedisDeployment(d)}: ${err.message}`, {
      code: 'FG_REDIS',
    });
  }
}

/** Hide the password of a Redis URL for logs and errors (one implementation: kernel/redact.ts). */
export { redactUrl } from '../../kernel/redact.ts';

/**
 * Run `fn` each time `redis` becomes ready again after having been ready (a reconnect, e.g. Redis restarted):
 * shared state a role owns (catalog, ranking, heartbeat, consumer groups, registry records) may be gone and is
 * rewritten there. Not called for the first connect. Returns the function that removes the hook.
 */
export function onReadyAgain(redis: Redis, fn: () => void): () => void {
  let seen = redis.status === 'ready';
  const onReady = () => {
    if (seen) fn();
    seen = true;
  };
  redis.on('ready', onReady);
  return () => redis.off('ready', onReady);
}
