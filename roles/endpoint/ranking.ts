// The ranking clients see (`set_movies`): read from Redis at most once per sync period, however many clients
// and however many `ranking:changed` notices; serialized once; pushed to every client only when it changed.
import type { Redis } from 'ioredis';
import { RANKING_WINDOW_S, ServerParams } from '../../protocol/messages.ts';
import { encodeServerMessage } from '../../protocol/ndjson.ts';
import type { RedisContract } from '../../protocol/redis-contract.ts';
import type { Logger } from '../runtime/logger.ts';

/** Without a change notice the ranking is still re-read every this many periods (a notice can be lost while
 * the subscriber reconnects). */
const FALLBACK_PERIODS = 5;

export class RankingSync {
  /** the current `set_movies` wire line */
  line: Buffer;
  private raw: string | null = null;
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
    private readonly onChange: (line: Buffer) => void,
  ) {
    this.line = encodeServerMessage('set_movies', {
      movies: [],
      window_s: RANKING_WINDOW_S,
      at: new Date().toISOString(),
    });
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
      if (raw === null || raw === this.raw) return;
      let parsed: unknown;
      try {
        parsed = JSON.parse(raw);
      } catch {
        parsed = undefined;
      }
      const r = ServerParams.set_movies.safeParse(parsed);
      if (!r.success) {
        this.raw = raw; // do not re-log the same bad value every period
        this.log.error(
          { key: this.keys.ranking, problem: r.error?.issues[0]?.message ?? 'not JSON' },
          'ranking in Redis is not valid set_movies params; clients keep the previous one (check the feeder)',
        );
        return;
      }
      this.raw = raw;
      this.line = encodeServerMessage('set_movies', r.data);
      this.onChange(this.line);
    } catch (err) {
      this.log.debug({ err: (err as Error).message }, 'ranking read failed; retrying next period');
    } finally {
      this.reading = false;
    }
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.pendingTimer);
    clearInterval(this.fallbackTimer);
  }
}
