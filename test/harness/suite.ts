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

/** `n` loopback sshd hosts for this suite. */
export function useSshHosts(n: number, opts?: StartSshHostsOptions): () => SshFleet {
  return useResource('useSshHosts()', () => startSshHosts(n, opts));
}

/** A moto_server for this suite. */
export function useMoto(): () => Moto {
  return useResource('useMoto()', () => startMoto());
}
