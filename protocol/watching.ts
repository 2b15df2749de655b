// Who is watching, summed over the fleet: every endpoint's `watching(id)` hash (clients per movie feed, written
// by roles/endpoint/watching.ts) added up. Read by the endpoints (set_movies `watching`) and God's dashboard.
import type { Redis } from 'ioredis';
import type { RedisContract } from './redis-contract.ts';

/** Movie id → clients on its feed across the fleet. Endpoints whose hash expired count nothing (an empty
 * hash); values that are not counts are skipped, never trusted. */
export async function readWatching(redis: Redis, keys: RedisContract): Promise<Map<number, number>> {
  const ids = await redis.zrange(keys.watchingIndex, '0', '-1');
  const totals = new Map<number, number>();
  if (ids.length === 0) return totals;
  const read = redis.pipeline();
  for (const id of ids) read.hgetall(keys.watching(id));
  for (const [err, h] of (await read.exec()) ?? []) {
    if (err || !h) continue;
    for (const [movie, n] of Object.entries(h as Record<string, string>)) {
      const id = Number(movie);
      const v = Number(n);
      if (!Number.isSafeInteger(id) || !Number.isSafeInteger(v) || v < 0) continue;
      totals.set(id, (totals.get(id) ?? 0) + v);
    }
  }
  return totals;
}
