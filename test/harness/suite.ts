import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { type Moto, startMoto } from './moto.ts';
import { type RedisServer, type StartRedisOptions, startRedis } from './redis.ts';
import { type SshFleet, type StartSshHostsOptions, startSshHosts } from './sshd.ts';

/**
 * Suite-scoped helpers: start in beforeAll, stop in afterAll, and return a getter to call inside
 * tests/hooks (calling it at collection time throws, since nothing is started yet).
 */
function useResource<T extends { stop(): Promise<void> }>(what: string, start: () => Promise<T>): () => T {
  let res: T | undefined;
  beforeAll(async () => {
    res = await start();
  });
  afterAll(async () => {
    const r = res;
    res = undefined;
    await r?.stop();
  });
  return () => {
    if (!res)
      throw new Error(
        `${what} is not running: call the getter inside a test or hook, not at collection time`,
      );
    return res;
  };
}

/** A private redis-server for this suite. */
export function useRedis(opts?: StartRedisOptions): () => RedisServer {
  return useResource('useRedis()', () => startRedis(opts));
}

/** An ioredis client of the suite's redis-server (`useRedis()`'s getter), disconnected before it stops. */
export function useRedisClient(server: () => RedisServer): () => Redis {
  let client: Redis | undefined;
  beforeAll(() => {
    client = new Redis(server().url);
  });
  afterAll(() => {
    client?.disconnect();
    client = undefined;
  });
  return () => {
    if (!client)
      throw new Error(
        'useRedisClient() is not connected: call the getter inside a test or hook, not at collection time',
      );
    return client;
  };
}

/** `n` loopback sshd hosts for this suite. */
export function useSshHosts(n: number, opts?: StartSshHostsOptions): () => SshFleet {
  return useResource('useSshHosts()', () => startSshHosts(n, opts));
}

/** A moto_server for this suite. */
export function useMoto(): () => Moto {
  return useResource('useMoto()', () => startMoto());
}
