// Writes matched tweets and minute counts to Redis in pipelined batches. While Redis is away, tweets wait in a
// bounded buffer (the oldest are dropped, and counted, when it is full); counts are merged per minute and
// movie, so they stay small and are never dropped. Never throws into the caller.
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Tweet } from '../../protocol/messages.ts';
import {
  COUNT_BUCKET_TTL_S,
  RECENT_TWEETS_CAP,
  RECENT_TWEETS_TTL_S,
  type RedisContract,
} from '../../protocol/redis-contract.ts';
import { queueTweet } from '../../protocol/redis-writes.ts';
import { encodeServerMessage } from '../../protocol/ndjson.ts';

/**
 * `script` mode: the same writes as queueTweet (PUBLISH the wire line, LPUSH/LTRIM/EXPIRE the history), done
 * by one EVALSHA per batch, because the client cost of four ioredis commands per publication is what limits
 * the feeder's throughput. Key names come from the contract as arguments. Standalone Redis only (keys of
 * many slots in one script), and Redis runs each batch as one unit.
 */
const PUBLISH_SCRIPT = `
local cap, ttl = tonumber(ARGV[1]), ARGV[2]
for i = 3, #ARGV, 3 do
  local channel, recent, line = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  redis.call('PUBLISH', channel, line)
  redis.call('LPUSH', recent, line)
  redis.call('LTRIM', recent, 0, cap)
  redis.call('EXPIRE', recent, ttl)
end
return #ARGV`;

export type PublishMode = 'commands' | 'script';

interface Entry {
  movie: number;
  tweet: Tweet;
  /** when it was queued (ms, monotonic) for the lag gauge */
  at: number;
}

export interface PublisherOptions {
  redis: Redis;
  keys: RedisContract;
  /** most (tweet, movie) publications held while Redis is slow or away */
  maxBuffer: number;
  /** (tweet, movie) publications per pipeline */
  batch: number;
  /** pipelines in flight at once */
  maxInFlight?: number;
  /** 'commands' (default): queueTweet per publication; 'script': one EVALSHA per batch */
  mode?: PublishMode;
  onError?: (err: Error) => void;
}

export class Publisher {
  private queue: Entry[] = [];
  private head = 0;
  /** minute → movie → count not yet written */
  private counts = new Map<number, Map<number, number>>();
  private countsPending = false;
  private inFlight = 0;
  private scheduled = false;
  private waiters: Array<{ level: number; resolve: () => void }> = [];
  private waitingForReady = false;
  private closed = false;
  published = 0;
  dropped = 0;
  /** longest time a publication waited before Redis acknowledged it, since the last read of lagMs() */
  private maxLag = 0;
  private lastError = '';

  constructor(private readonly o: PublisherOptions) {}

  get buffered(): number {
    return this.queue.length - this.head;
  }

  /** Queue one tweet for each of its movies, and its counts. */
  enqueue(movies: readonly number[], tweet: Tweet, minute: number, at: number): void {
    let b = this.counts.get(minute);
    if (!b) {
      b = new Map();
      this.counts.set(minute, b);
    }
    for (const movie of movies) {
      b.set(movie, (b.get(movie) ?? 0) + 1);
      this.queue.push({ movie, tweet, at });
    }
    this.countsPending = true;
    const over = this.buffered - this.o.maxBuffer;
    if (over > 0) {
      // the newest tweets matter most to a live feed: drop from the old end
      this.head += over;
      this.dropped += over;
    }
    this.schedule();
  }

  /** Resolves once the buffer is below `level` (sources that can wait use it for backpressure). */
  belowLevel(level: number): Promise<void> {
    if (this.buffered < level || this.closed) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ level, resolve }));
  }

  /** ms: the longest wait for Redis since the last call */
  takeLag(): number {
    const l = this.maxLag;
    this.maxLag = 0;
    return l;
  }

  private schedule(): void {
    if (this.scheduled || this.closed) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  /** Start pipelines while there is work, Redis is up and the in-flight limit allows. */
  pump(): void {
    const max = this.o.maxInFlight ?? 4;
    while (
      !this.closed &&
      this.o.redis.status === 'ready' &&
      this.inFlight < max &&
      (this.buffered > 0 || this.countsPending)
    ) {
      void this.send();
    }
    if (this.o.redis.status !== 'ready' && (this.buffered > 0 || this.countsPending)) this.resumeWhenReady();
    this.wake();
  }

  /** Redis is away: pump again when ioredis has reconnected. */
  private resumeWhenReady(): void {
    if (this.waitingForReady || this.closed) return;
    this.waitingForReady = true;
    this.o.redis.once('ready', () => {
      this.waitingForReady = false;
      this.pump();
    });
  }

  private async send(): Promise<void> {
    const { redis, keys } = this.o;
    const n = Math.min(this.buffered, this.o.batch);
    const batch = this.queue.slice(this.head, this.head + n);
    this.head += n;
    if (this.head > 65536 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    const counts = this.counts;
    const hadCounts = this.countsPending;
    this.counts = new Map();
    this.countsPending = false;
    this.inFlight++;
    const p = redis.pipeline();
    const script = this.o.mode === 'script' && batch.length > 0;
    if (script) {
      const args: Array<string | Buffer> = [String(RECENT_TWEETS_CAP - 1), String(RECENT_TWEETS_TTL_S)];
      for (const e of batch) {
        const line = encodeServerMessage('post_tweet', { movie_id: e.movie, tweet: e.tweet });
        args.push(keys.movieChannel(e.movie), keys.movieRecent(e.movie), line);
      }
      p.evalsha(this.scriptSha(), 0, ...args);
    } else for (const e of batch) queueTweet(p, keys, e.movie, e.tweet);
    const perEntry = script ? 0 : 4;
    const countsAt = script ? 1 : batch.length * 4;
    for (const [minute, b] of counts) {
      const key = keys.countBucket(minute);
      for (const [movie, c] of b) p.hincrby(key, String(movie), c);
      p.expire(key, COUNT_BUCKET_TTL_S);
    }
    let results: Array<[Error | null, unknown]> | null = null;
    let failure: Error | undefined;
    try {
      results = await p.exec();
    } catch (err) {
      failure = err as Error;
    }
    this.inFlight--;
    const now = performance.now();
    if (script && results?.[0]?.[0]?.message.startsWith('NOSCRIPT')) {
      this.scriptLoaded = undefined;
      await redis.script('LOAD', PUBLISH_SCRIPT).catch(() => {});
    }
    // a publication is done when its LPUSH went through (command mode: 4 commands each, see queueTweet;
    // script mode: the script's one reply covers the batch)
    const requeue: Entry[] = [];
    batch.forEach((e, i) => {
      const r = results?.[script ? 0 : i * perEntry + 1];
      if (r && !r[0]) {
        this.published++;
        if (now - e.at > this.maxLag) this.maxLag = now - e.at;
      } else requeue.push(e);
    });
    const countsFailed = !results || results.slice(countsAt).some(([err]) => err);
    if (hadCounts && countsFailed) this.mergeCounts(counts);
    if (requeue.length) {
      // back to the front: they are older than what arrived meanwhile
      this.queue = requeue.concat(this.queue.slice(this.head));
      this.head = 0;
      const over = this.buffered - this.o.maxBuffer;
      if (over > 0) {
        this.head += over;
        this.dropped += over;
      }
      const err = failure ?? results?.find(([e]) => e)?.[0] ?? new Error('pipeline failed');
      if (err.message !== this.lastError) this.o.onError?.(err);
      this.lastError = err.message;
      // Redis is away: retry when it is back (ioredis reconnects; 'ready' resumes the pump)
      if (redis.status !== 'ready') {
        this.resumeWhenReady();
        return;
      }
      setTimeout(() => this.pump(), 100).unref();
      return;
    }
    this.lastError = '';
    this.pump();
  }

  private scriptLoaded?: string;
  /** the script's SHA1 (EVALSHA); loaded on first use and again after NOSCRIPT (e.g. a restarted Redis) */
  private scriptSha(): string {
    if (!this.scriptLoaded) {
      this.scriptLoaded = createHash('sha1').update(PUBLISH_SCRIPT).digest('hex');
      void this.o.redis.script('LOAD', PUBLISH_SCRIPT).catch(() => {});
    }
    return this.scriptLoaded;
  }

  private mergeCounts(counts: Map<number, Map<number, number>>): void {
    for (const [minute, b] of counts) {
      let mine = this.counts.get(minute);
      if (!mine) {
        mine = new Map();
        this.counts.set(minute, mine);
      }
      for (const [movie, c] of b) mine.set(movie, (mine.get(movie) ?? 0) + c);
    }
    this.countsPending = true;
  }

  private wake(): void {
    if (this.waiters.length === 0) return;
    const ready = this.waiters.filter((w) => this.closed || this.buffered < w.level);
    if (ready.length === 0) return;
    this.waiters = this.waiters.filter((w) => !ready.includes(w));
    for (const w of ready) w.resolve();
  }

  /** Wait until everything queued is written (or the timeout passes). */
  async drain(timeoutMs: number): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    while ((this.buffered > 0 || this.countsPending || this.inFlight > 0) && Date.now() < until) {
      this.pump();
      await new Promise((r) => setTimeout(r, 10));
    }
    return this.buffered === 0 && !this.countsPending && this.inFlight === 0;
  }

  close(): void {
    this.closed = true;
    this.wake();
  }
}
