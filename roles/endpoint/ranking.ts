// The ranking clients see (`set_movies`): read from Redis at most once per sync period, however many clients
// and however many `ranking:changed` notices; serialized once; pushed to every client only when it changed.
// After the ranked movies come catalog movies with count 0, up to --movies-shown, so the list is never empty
// while there is a catalog (a fresh fleet, a Redis restart). 1.1 clients get their own line, each movie with
// `watching` (watching.ts); the 1.0 line is the same bytes as before 1.1.
import type { Redis } from 'ioredis';
import { RANKING_WINDOW_S, ServerParams, type ServerParamsOf } from '../../protocol/messages.ts';
import { encodeServerMessage } from '../../protocol/ndjson.ts';
import type { RedisContract } from '../../protocol/redis-contract.ts';
import type { Logger } from '../runtime/logger.ts';
import type { CatalogCache } from './catalog.ts';

/** Without a change notice the ranking is still re-read every this many periods (a notice can be lost while
 * the subscriber reconnects). */
const FALLBACK_PERIODS = 5;

export class RankingSync {
  /** the current `set_movies` wire line of 1.0 clients */
  line: Buffer;
  /** the same for 1.1 clients: each movie with `watching` */
  line11: Buffer;
  private raw: string | null = null;
  /** the last valid ranking from Redis */
  private base: ServerParamsOf['set_movies'] | null = null;
  /** raw ranking and catalog load the current line was made from */
  private madeFrom = '';
  private lastReadAt = 0;
  private pendingTimer?: NodeJS.Timeout;
  private fallbackTimer?: NodeJS.Timeout;
  private reading = false;
  private closed = false;
  reads = 0;

  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisContract,
    private readonly periodMs: number,
    private readonly log: Logger,
    /** a line changed: `line` for 1.0 clients, `line11` for 1.1 ones (null: that one did not change) */
    private readonly onChange: (line: Buffer | null, line11: Buffer | null) => void,
    private readonly catalog?: CatalogCache,
    private readonly moviesShown = 0,
    private readonly watching?: { readonly totals: ReadonlyMap<number, number>; readonly version: number },
  ) {
    this.line = encodeServerMessage('set_movies', {
      movies: [],
      window_s: RANKING_WINDOW_S,
      at: new Date().toISOString(),
    });
    this.line11 = this.line;
  }

  async start(): Promise<void> {
    await this.read();
    this.fallbackTimer = setInterval(() => this.request(), this.periodMs * FALLBACK_PERIODS);
    this.fallbackTimer.unref();
  }

  /** A change was announced: read again as soon as the period allows. */
  request(): void {
    if (this.closed || this.pendingTimer) return;
    const wait = Math.max(0, this.lastReadAt + this.periodMs - Date.now());
    this.pendingTimer = setTimeout(() => {
      this.pendingTimer = undefined;
      void this.read();
    }, wait);
    this.pendingTimer.unref();
  }

  private async read(): Promise<void> {
    if (this.reading || this.closed) return;
    this.reading = true;
    this.lastReadAt = Date.now();
    try {
      const raw = await this.redis.get(this.keys.ranking);
      this.reads++;
      if (raw !== null && raw !== this.raw) {
        let parsed: unknown;
        try {
          parsed = JSON.parse(raw);
        } catch {
          parsed = undefined;
        }
        const r = ServerParams.set_movies.safeParse(parsed);
        this.raw = raw; // a bad value: do not re-log it every period
        if (r.success) this.base = r.data;
        else {
          this.log.error(
            { key: this.keys.ranking, problem: r.error?.issues[0]?.message ?? 'not JSON' },
            'ranking in Redis is not valid set_movies params; clients keep the previous one (check the feeder)',
          );
        }
      }
      this.compose();
    } catch (err) {
      this.log.debug({ err: (err as Error).message }, 'ranking read failed; retrying next period');
    } finally {
      this.reading = false;
    }
  }

  /** The line from the last ranking (kept while Redis has none) and the catalog; pushed when it changed. */
  compose(): void {
    const from = `${this.raw}\u0000${this.catalog?.loads ?? 0}\u0000${this.watching?.version ?? 0}`;
    if (from === this.madeFrom) return;
    this.madeFrom = from;
    const base = this.base ?? { movies: [], window_s: RANKING_WINDOW_S, at: new Date().toISOString() };
    const room = this.moviesShown - base.movies.length;
    const fill =
      room > 0 && this.catalog ? this.catalog.unranked(new Set(base.movies.map((m) => m.id)), room) : [];
    if (this.base === null && fill.length === 0) return; // nothing known yet: keep the empty line
    const params =
      fill.length === 0
        ? base
        : { ...base, movies: [...base.movies, ...fill.map((m) => ({ ...m, count: 0 }))] };
    const line = encodeServerMessage('set_movies', params);
    const totals = this.watching?.totals;
    const line11 = encodeServerMessage('set_movies', {
      ...params,
      movies: params.movies.map((m) => ({ ...m, watching: totals?.get(m.id) ?? 0 })),
    });
    const changed = !line.equals(this.line);
    const changed11 = !line11.equals(this.line11);
    if (changed) this.line = line;
    if (changed11) this.line11 = line11;
    if (changed || changed11) this.onChange(changed ? line : null, changed11 ? line11 : null);
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.pendingTimer);
    clearInterval(this.fallbackTimer);
  }
}
