// The feeder's core, source-independent: delivered lines → tweets → matched movies → per-minute counts,
// publications and the past-hour ranking in Redis. The clock is injected so tests can move time.
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { CatalogMovie, RedisContract } from '../../protocol/redis-contract.ts';
import { queueCatalog, queueRanking } from '../../protocol/redis-writes.ts';
import { onReadyAgain } from '../runtime/redis.ts';
import { WindowCounter } from './counter.ts';
import { Matcher } from './match/matcher.ts';
import { type PublishMode, Publisher } from './publisher.ts';
import type { RespConnection } from './resp.ts';
import type { Recorder } from './record.ts';
import { toTweet } from './tweet.ts';

/** One tweet in this many has its match timed (a power of two). */
const MATCH_SAMPLE = 64;

export interface FeederOptions {
  /** command connection for the ranking and catalog (waits for reconnects) */
  redis: Redis;
  /** ioredis connection for publications in the 'commands' and 'script' modes; should fail fast while Redis
   * is down (offline queue off) */
  publishRedis?: Redis;
  /** raw RESP connection for publications in the 'resp' mode (the default when given) */
  publishResp?: RespConnection;
  keys: RedisContract;
  log: Logger;
  catalog: CatalogMovie[];
  now?: () => number;
  rankingIntervalMs?: number;
  rankingSize?: number;
  maxBuffer?: number;
  batch?: number;
  publishMode?: PublishMode;
  recorder?: Recorder;
}

export class Feeder {
  matcher: Matcher;
  readonly counter: WindowCounter;
  readonly publisher: Publisher;
  private titles = new Map<number, string>();
  private readonly now: () => number;
  private timer?: NodeJS.Timeout;
  private offReady?: () => void;
  /** the catalog in force (what is written to Redis, again after a reconnect) */
  private catalog: CatalogMovie[];
  private lastRanking = '';
  private rankingBusy = false;
  tweets = 0;
  matched = 0;
  badLines = 0;
  /** when the ranking was last written to Redis (this.now() ms; 0: not yet), for /metrics */
  rankingAt = 0;
  /** set by /metrics: seconds to match one tweet, for a sample of them (one in MATCH_SAMPLE) */
  onMatchTimed?: (seconds: number) => void;
  /** set by /metrics: a publish batch acknowledged, seconds from its oldest tweet's arrival */
  onPublished?: (seconds: number) => void;
  private lastGauges = { at: performance.now(), tweets: 0, matched: 0 };

  constructor(private readonly o: FeederOptions) {
    this.now = o.now ?? Date.now;
    this.catalog = o.catalog;
    this.matcher = new Matcher(o.catalog);
    this.setTitles(o.catalog);
    this.counter = new WindowCounter(this.now);
    this.publisher = new Publisher({
      redis: o.publishRedis,
      resp: o.publishResp,
      keys: o.keys,
      maxBuffer: o.maxBuffer ?? 100_000,
      batch: o.batch ?? 1000,
      mode: o.publishMode,
      onPublished: (s) => this.onPublished?.(s),
      onError: (err) =>
        o.log.warn({ err: err.message, buffered: this.publisher.buffered }, 'publishing paused'),
    });
  }

  private setTitles(catalog: CatalogMovie[]): void {
    this.titles = new Map(catalog.map((m) => [m.id, m.title]));
  }

  /** Write the catalog, read back the counts of the past hour, and keep the ranking up to date. */
  async start(): Promise<void> {
    await this.writeCatalog(this.catalog);
    // a restarted Redis (no persistence) has lost the catalog and the ranking: the feeder owns them, so it
    // writes them again as soon as its connection is back, or every start_feed would get unknown_movie
    this.offReady = onReadyAgain(this.o.redis, () => {
      this.writeCatalog(this.catalog).then(
        () =>
          this.o.log.info(
            { movies: this.catalog.length },
            'Redis is back: catalog and ranking written again',
          ),
        (err) => this.o.log.warn({ err: (err as Error).message }, 'could not write the catalog again'),
      );
      void this.publishRanking(true);
    });
    await this.loadCounts();
    await this.publishRanking(true);
    this.timer = setInterval(() => void this.publishRanking(false), this.o.rankingIntervalMs ?? 1000);
    this.timer.unref();
  }

  async writeCatalog(catalog: CatalogMovie[]): Promise<void> {
    const p = this.o.redis.multi();
    queueCatalog(p, this.o.keys, catalog);
    await p.exec();
  }

  /** Swap in a new catalog (file changed): new matcher, catalog in Redis, ranking titles. */
  async replaceCatalog(catalog: CatalogMovie[]): Promise<void> {
    this.matcher = new Matcher(catalog);
    this.setTitles(catalog);
    this.catalog = catalog;
    await this.writeCatalog(catalog);
    await this.publishRanking(true);
  }

  private async loadCounts(): Promise<void> {
    const minutes = this.counter.windowMinutes();
    const p = this.o.redis.pipeline();
    for (const m of minutes) p.hgetall(this.o.keys.countBucket(m));
    const res = (await p.exec()) ?? [];
    let loaded = 0;
    res.forEach(([err, h], i) => {
      if (err || !h) return;
      const counts = new Map<number, number>();
      for (const [id, n] of Object.entries(h as Record<string, string>)) {
        counts.set(Number(id), Number(n));
        loaded += Number(n);
      }
      if (counts.size) this.counter.load(minutes[i], counts);
    });
    if (loaded) this.o.log.info({ counted: loaded }, 'resumed the past hour of counts from Redis');
  }

  /** One line as a source delivered it (JSON text). */
  ingestLine(line: string): void {
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch (err) {
      this.bad(`not JSON: ${(err as Error).message}`, line);
      return;
    }
    this.ingest(obj, line);
  }

  /** One object as a source delivered it (already parsed); `line` is its text when the source had it. */
  ingest(obj: unknown, line?: string): void {
    const now = this.now();
    const parsed = toTweet(obj, now);
    if (!parsed.ok) {
      this.bad(parsed.reason, line ?? safeJson(obj));
      return;
    }
    this.o.recorder?.write(line ?? JSON.stringify(obj));
    this.tweets++;
    const timed = this.onMatchTimed !== undefined && (this.tweets & (MATCH_SAMPLE - 1)) === 0;
    const t0 = timed ? performance.now() : 0;
    const movies = this.matcher.match(parsed.text);
    if (timed) this.onMatchTimed!((performance.now() - t0) / 1000);
    if (movies.length === 0) return;
    this.matched++;
    const minute = this.counter.add(movies);
    this.publisher.enqueue(movies, parsed.tweet, minute, performance.now());
  }

  /** A line that is not a tweet: counted, logged (the first ones, then every 1000th), never fatal. */
  bad(reason: string, sample: string): void {
    this.badLines++;
    if (this.badLines <= 10 || this.badLines % 1000 === 0) {
      this.o.log.warn(
        { reason, sample: sample.slice(0, 200), bad_lines: this.badLines },
        'skipped a bad tweet line',
      );
    }
  }

  /** Compute the ranking; write it when it changed (or when forced). */
  async publishRanking(force: boolean): Promise<void> {
    if (this.rankingBusy) return;
    this.rankingBusy = true;
    try {
      const top = this.counter.top(this.o.rankingSize ?? 100);
      const movies = top.map((t) => ({
        id: t.id,
        title: this.titles.get(t.id) ?? `#${t.id}`,
        count: t.count,
      }));
      const sig = JSON.stringify(movies);
      if (!force && sig === this.lastRanking) return;
      if (this.o.redis.status !== 'ready') return; // written when Redis is back (next tick)
      const p = this.o.redis.multi();
      queueRanking(p, this.o.keys, movies, new Date(this.now()));
      await p.exec();
      this.lastRanking = sig;
      this.rankingAt = this.now();
    } catch (err) {
      this.o.log.warn({ err: (err as Error).message }, 'could not write the ranking; retrying');
    } finally {
      this.rankingBusy = false;
    }
  }

  /** Resolves when the publish buffer has room (for sources that can wait). */
  ready(): Promise<void> {
    const high = Math.max(1000, (this.o.maxBuffer ?? 100_000) / 2);
    return this.publisher.belowLevel(high);
  }

  gauges(): Record<string, number> {
    const now = performance.now();
    const dt = (now - this.lastGauges.at) / 1000;
    const g = {
      tweets_per_s: dt > 0 ? Math.round((this.tweets - this.lastGauges.tweets) / dt) : 0,
      matched_per_s: dt > 0 ? Math.round((this.matched - this.lastGauges.matched) / dt) : 0,
      lag_ms: Math.round(this.publisher.takeLag()),
      dropped: this.publisher.dropped,
      bad_lines: this.badLines,
      buffered: this.publisher.buffered,
      tweets_total: this.tweets,
      matched_total: this.matched,
      published_total: this.publisher.published,
      ranked_movies: this.counter.totals.size,
    };
    this.lastGauges = { at: now, tweets: this.tweets, matched: this.matched };
    return g;
  }

  async stop(timeoutMs = 3000): Promise<void> {
    clearInterval(this.timer);
    this.offReady?.();
    await this.publisher.drain(timeoutMs);
    await this.publishRanking(false);
    this.publisher.close();
  }
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}
