// Movie ids of the catalog, kept in memory for `start_feed`; reloaded when the feeder replaces the catalog.
import type { Redis } from 'ioredis';
import type { RedisContract } from '../../protocol/redis-contract.ts';
import type { Logger } from '../runtime/logger.ts';

const LOOKUP_TIMEOUT_MS = 2000;

export class CatalogCache {
  private ids = new Set<number>();
  private loading: Promise<void> | null = null;
  loads = 0;

  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisContract,
    private readonly log: Logger,
  ) {}

  get size(): number {
    return this.ids.size;
  }

  load(): Promise<void> {
    this.loading ??= (async () => {
      try {
        const ids = await this.redis.hkeys(this.keys.catalog);
        this.ids = new Set(ids.map(Number).filter(Number.isInteger));
        this.loads++;
        this.log.debug({ movies: this.ids.size }, 'catalog loaded');
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'catalog load failed; will retry on the next change');
      } finally {
        this.loading = null;
      }
    })();
    return this.loading;
  }

  /** Whether a movie is in the catalog. Ids missing from the cached copy are checked in Redis (the catalog
   * may have just been replaced). */
  async has(movieId: number): Promise<boolean> {
    if (this.ids.has(movieId)) return true;
    try {
      const found = await Promise.race([
        this.redis.hexists(this.keys.catalog, String(movieId)),
        new Promise<number>((_, reject) =>
          setTimeout(() => reject(new Error('timeout')), LOOKUP_TIMEOUT_MS).unref(),
        ),
      ]);
      if (found === 1) this.ids.add(movieId);
      return found === 1;
    } catch {
      return false;
    }
  }
}
