// Redis connections for roles: reconnect forever with capped, jittered backoff; TLS and passwords from the URL.
import fs from 'node:fs';
import { Redis, type RedisOptions } from 'ioredis';
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
}

/** Backoff between reconnect attempts: 100 ms doubling to 5 s, ±25 % jitter. */
export function reconnectDelay(attempt: number): number {
  const base = Math.min(5000, 100 * 2 ** Math.min(attempt, 10));
  return Math.round(base * (0.75 + Math.random() * 0.5));
}

export function redisOptions(url: string, o: RedisConnectOptions): RedisOptions {
  const u = new URL(url);
  const opts: RedisOptions = {
    connectionName: o.name,
    lazyConnect: false,
    retryStrategy: (times) => reconnectDelay(times),
    // reconnect after READONLY (failover) instead of failing commands
    reconnectOnError: (err) => err.message.startsWith('READONLY'),
    enableOfflineQueue: o.offlineQueue !== false,
    maxRetriesPerRequest: o.offlineQueue === false ? 0 : null,
    autoResubscribe: true,
    connectTimeout: 5000,
  };
  if (u.protocol === 'rediss:') {
    opts.tls = {
      rejectUnauthorized: !o.tlsInsecure,
      ...(o.tlsCa ? { ca: fs.readFileSync(o.tlsCa) } : {}),
      servername: u.hostname,
    };
  }
  return opts;
}

export function connectRedis(url: string, o: RedisConnectOptions): Redis {
  const r = new Redis(url, redisOptions(url, o));
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
    }
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
