// Writes matched tweets and minute counts to Redis in pipelined batches. While Redis is away, tweets wait in a
// bounded buffer (the oldest are dropped, and counted, when it is full); counts are merged per minute and
// movie, so they stay small and are never dropped. Never throws into the caller.
import type { Redis } from 'ioredis';
import type { Tweet } from '../../protocol/messages.ts';
import { COUNT_BUCKET_TTL_S, type RedisContract } from '../../protocol/redis-contract.ts';
import { partialFailures, queueTweet, queueTweetBatch } from '../../protocol/redis-writes.ts';
import { type BatchReply, RespBatch, type RespConnection } from './resp.ts';

/** HINCRBY per minute bucket and movie, and the bucket's TTL. */
function writeCounts(
  p: { hincrby(key: string, field: string, by: number): unknown; expire(key: string, s: number): unknown },
  keys: RedisContract,
  counts: Counts,
): void {
  for (const [minute, b] of counts) {
    const key = keys.countBucket(minute);
    for (const [movie, c] of b) p.hincrby(key, String(movie), c);
    p.expire(key, COUNT_BUCKET_TTL_S);
  }
}

export type PublishMode = 'resp' | 'commands' | 'script';

interface Entry {
  movieId: number;
  tweet: Tweet;
  /** when it was queued (ms, monotonic) for the lag gauge */
  at: number;
}

export interface PublisherOptions {
  /** ioredis connection ('commands' and 'script' modes); should fail fast while Redis is down */
  redis?: Redis;
  /** raw RESP connection ('resp' mode) */
  resp?: RespConnection;
  keys: RedisContract;
  /** most (tweet, movie) publications held while Redis is slow or away */
  maxBuffer: number;
  /** (tweet, movie) publications per pipeline */
  batch: number;
  /** pipelines in flight at once */
  maxInFlight?: number;
  /** 'resp' (needs `resp`): queueTweetBatch (one publish-script EVAL) encoded as RESP, one write per batch;
   * 'commands': queueTweet (one EVAL) per publication on an ioredis pipeline; 'script': queueTweetBatch on ioredis */
  mode?: PublishMode;
  onError?: (err: Error) => void;
  /** a batch was acknowledged: seconds from its oldest entry's arrival (for /metrics) */
  onPublished?: (seconds: number) => void;
}

/** What became of one batch: which publications are in Redis, whether the counts are. */
interface Outcome {
  ok: (i: number) => boolean;
  countsOk: boolean;
  error?: Error;
}

type Counts = Map<number, Map<number, number>>;

export class Publisher {
  private queue: Entry[] = [];
  private head = 0;
  /** minute → movie → count not yet written */
  private counts: Counts = new Map();
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
  private readonly mode: PublishMode;
  /** bytes of the last RESP batch, to size the next one */
  private respSize = 64 * 1024;
  /** buffers of answered RESP batches (allocating a new megabyte per batch costs GC time) */
  private spare: Buffer[] = [];

  constructor(private readonly o: PublisherOptions) {
    this.mode = o.mode ?? (o.resp ? 'resp' : 'commands');
    if (this.mode === 'resp' ? !o.resp : !o.redis) {
      throw new Error(
        `publish mode ${this.mode} needs ${this.mode === 'resp' ? 'a RESP' : 'an ioredis'} connection`,
      );
    }
  }

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
    for (const movieId of movies) {
      b.set(movieId, (b.get(movieId) ?? 0) + 1);
      this.queue.push({ movieId, tweet, at });
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

  private connected(): boolean {
    return this.mode === 'resp' ? this.o.resp!.status === 'ready' : this.o.redis!.status === 'ready';
  }

  /** Start pipelines while there is work, Redis is up and the in-flight limit allows. */
  pump(): void {
    const max = this.o.maxInFlight ?? 4;
    while (
      !this.closed &&
      this.connected() &&
      this.inFlight < max &&
      (this.buffered > 0 || this.countsPending)
    ) {
      void this.send();
    }
    if (!this.connected() && (this.buffered > 0 || this.countsPending)) this.resumeWhenReady();
    this.wake();
  }

  /** Redis is away: pump again when the connection is back ('ready'). */
  private resumeWhenReady(): void {
    if (this.waitingForReady || this.closed) return;
    this.waitingForReady = true;
    const conn: NodeJS.EventEmitter = this.mode === 'resp' ? this.o.resp! : this.o.redis!;
    conn.once('ready', () => {
      this.waitingForReady = false;
      this.pump();
    });
  }

  private async send(): Promise<void> {
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
    const out =
      this.mode === 'resp' ? await this.sendResp(batch, counts) : await this.sendPipeline(batch, counts);
    this.inFlight--;
    const now = performance.now();
    const requeue: Entry[] = [];
    for (let i = 0; i < batch.length; i++) {
      const e = batch[i];
      if (out.ok(i)) {
        this.published++;
        if (now - e.at > this.maxLag) this.maxLag = now - e.at;
      } else requeue.push(e);
    }
    if (batch.length && out.ok(0)) this.o.onPublished?.((now - batch[0]!.at) / 1000);
    if (hadCounts && !out.countsOk) this.mergeCounts(counts);
    if (requeue.length || !out.countsOk) {
      if (requeue.length) {
        // back to the front: they are older than what arrived meanwhile
        this.queue = requeue.concat(this.queue.slice(this.head));
        this.head = 0;
        const over = this.buffered - this.o.maxBuffer;
        if (over > 0) {
          this.head += over;
          this.dropped += over;
        }
      }
      const err = out.error ?? new Error('Redis did not take the batch');
      if (err.message !== this.lastError) this.o.onError?.(err);
      this.lastError = err.message;
      // Redis is away: retry when it is back ('ready' resumes the pump)
      if (!this.connected()) {
        this.resumeWhenReady();
        return;
      }
      setTimeout(() => this.pump(), 100).unref();
      return;
    }
    this.lastError = '';
    this.pump();
  }

  /** queueTweetBatch and the counts as RESP in one Buffer, one write. */
  private async sendResp(batch: Entry[], counts: Counts): Promise<Outcome> {
    const { keys } = this.o;
    const b = new RespBatch(this.respSize + (this.respSize >> 3), this.spare.pop());
    queueTweetBatch(b, keys, batch);
    const countsAt = b.commands;
    writeCounts(b, keys, counts);
    this.respSize = b.length;
    let reply: BatchReply;
    try {
      reply = await this.o.resp!.send(b);
    } catch (err) {
      return { ok: () => false, countsOk: false, error: err as Error };
    }
    // every command was answered, so the socket is done with the bytes: the next batch can reuse them
    if (this.spare.length < 4) this.spare.push(b.buffer);
    if (reply.errors.length === 0) return { ok: () => true, countsOk: true };
    // command 0 is the publish script: all in, all out, or the ones its FGPARTIAL error names out
    const script = reply.errors.find((e) => e.index === 0);
    const failed = script ? partialFailures(script.message) : new Set<number>();
    return {
      ok: (i) => (failed ? !failed.has(i) : false),
      countsOk: !reply.errors.some((e) => e.index >= countsAt),
      error: new Error(reply.errors[0].message),
    };
  }

  /** The ioredis modes: queueTweet per publication, or queueTweetBatch per batch, and the counts. */
  private async sendPipeline(batch: Entry[], counts: Counts): Promise<Outcome> {
    const { keys } = this.o;
    const p = this.o.redis!.pipeline();
    const script = this.mode === 'script' && batch.length > 0;
    if (script) queueTweetBatch(p, keys, batch);
    else for (const e of batch) queueTweet(p, keys, e.movieId, e.tweet);
    const countsAt = script ? 1 : batch.length;
    writeCounts(p, keys, counts);
    let results: Array<[Error | null, unknown]> | null = null;
    let failure: Error | undefined;
    try {
      results = await p.exec();
    } catch (err) {
      failure = err as Error;
    }
    const scriptError = script ? results?.[0]?.[0] : null;
    const partial = scriptError ? partialFailures(scriptError.message) : undefined;
    return {
      ok: (i) => {
        const r = results?.[script ? 0 : i];
        if (!r) return false;
        if (!r[0]) return true;
        return partial !== undefined && !partial.has(i);
      },
      countsOk: !!results && !results.slice(countsAt).some(([err]) => err),
      error: failure ?? results?.find(([e]) => e)?.[0] ?? undefined,
    };
  }

  private mergeCounts(counts: Counts): void {
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
