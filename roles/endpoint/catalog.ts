// The catalog's movie ids and titles, kept in memory for `start_feed` and to fill `set_movies`; reloaded when
// the feeder replaces the catalog.
import type { Redis } from 'ioredis';
import { CatalogMovieSchema, type RedisContract } from '../../protocol/redis-contract.ts';
import type { Logger } from '../runtime/logger.ts';

export class CatalogCache {
  private ids = new Set<number>();
  /** id → title, ids ascending (the order catalog movies fill `set_movies` in) */
  private titles: Array<{ id: number; title: string }> = [];
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
        const all = await this.redis.hgetall(this.keys.catalog);
        const ids = Object.keys(all);
        // An empty hash is a catalog Redis lost (a restart), not a catalog without movies: keep the copy we have
        // until the feeder writes it again (its catalog:changed may come before our subscriber is back).
        if (ids.length === 0 && this.ids.size > 0) {
          this.log.warn({ movies: this.ids.size }, "catalog missing in Redis; keeping this endpoint's copy");
          return;
        }
        this.ids = new Set(ids.map(Number).filter(Number.isInteger));
        const titles: Array<{ id: number; title: string }> = [];
        for (const id of this.ids) {
          let movie: unknown;
          try {
            movie = JSON.parse(all[String(id)]!);
          } catch {}
          const m = CatalogMovieSchema.safeParse(movie);
          if (m.success) titles.push({ id, title: m.data.title });
        }
        this.titles = titles.sort((a, b) => a.id - b.id);
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

  /** Up to `n` catalog movies not in `skip`, ids ascending. */
  unranked(skip: ReadonlySet<number>, n: number): Array<{ id: number; title: string }> {
    const out: Array<{ id: number; title: string }> = [];
    for (const m of this.titles) {
      if (out.length >= n) break;
      if (!skip.has(m.id)) out.push(m);
    }
    return out;
  }

  /** Whether a movie is in the catalog, from this endpoint's copy (reloaded on `catalog:changed` and after a
   * reconnect): no Redis round trip per id. undefined while no copy was ever loaded (Redis down since start). */
  has(movieId: number): boolean | undefined {
    if (this.loads === 0) return undefined;
    return this.ids.has(movieId);
  }
}
