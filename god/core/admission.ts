// Admission: an endpoint God starts on a host runs `--unlisted` (FG_ENDPOINT_UNLISTED) and stays out of the
// registry, so out of endpoints.json and of other endpoints' redirects, until God has checked it (heartbeat at
// the release, protocol connect → set_movies) and admits it at that release. The admission outlives restarts of
// the same release (a crash restart lists itself again); a new release is listed only once admitted in its turn,
// and a rollback's health check admits the release it went back to.
import type { Redis } from 'ioredis';
import type { RedisContract } from '../../protocol/redis-contract.ts';
import { sleep } from '../../kernel/sleep.ts';

/** The env var that starts an endpoint unlisted (roles/endpoint/options.ts `unlisted`). */
export const UNLISTED_ENV = 'FG_ENDPOINT_UNLISTED';

/**
 * Admit endpoint `id` at `version`; with `waitMs`, wait (that long at most) until its record is in the
 * registry. Returns whether it is listed (always true without a wait).
 */
export async function admitEndpoint(
  redis: Redis,
  keys: RedisContract,
  id: string,
  version: string,
  waitMs = 0,
): Promise<boolean> {
  await redis.hset(keys.endpointAdmitted, id, version);
  const until = Date.now() + waitMs;
  for (;;) {
    if (waitMs <= 0 || (await redis.exists(keys.endpoint(id)))) return true;
    if (Date.now() >= until) return false;
    await sleep(100);
  }
}

/** Forget the admissions of endpoints that are gone for good (terminated instances). */
export async function forgetEndpoints(redis: Redis, keys: RedisContract, ids: string[]): Promise<void> {
  if (ids.length) await redis.hdel(keys.endpointAdmitted, ...ids);
}
