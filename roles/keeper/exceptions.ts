// Exception alerts: a logged error with a stack is emailed at once; further copies of the same exception
// (same fingerprint) within --exception-window go into one digest email with their count, sent when the
// window closes. Counts live in Redis (HINCRBY) so two keepers sharing the stream send one email + one digest:
// the keeper whose increment opened the window owns it and sends both.
import type { Redis } from 'ioredis';
import type { RedisContract } from '../../protocol/redis-contract.ts';
import type { Logger } from '../runtime/logger.ts';
import type { StreamEntry } from './archive-format.ts';
import { errorOfLine, fingerprint, type LoggedError } from './fingerprint.ts';
import type { Notifier } from './notifier.ts';

export interface ExceptionOptions {
  redis: Redis;
  keys: RedisContract;
  windowMs: number;
  notifier: Notifier;
  log: Logger;
}

interface Seen {
  count: number;
  err: LoggedError;
  msg?: string;
  entry: StreamEntry;
  time?: string;
}

interface Owned {
  dueAt: number;
  first: Seen;
  lastEntryId: string;
}

export class ExceptionMonitor {
  private seen = new Map<string, Seen>();
  private owned = new Map<string, Owned>();
  detected = 0;

  constructor(private readonly o: ExceptionOptions) {}

  observe(entries: StreamEntry[]): void {
    for (const e of entries) {
      if (e.level !== 'error' && e.level !== 'fatal') continue;
      if (!e.line.includes('"stack"')) continue;
      let obj: Record<string, unknown>;
      try {
        obj = JSON.parse(e.line) as Record<string, unknown>;
      } catch {
        continue;
      }
      const err = errorOfLine(obj);
      if (!err) continue;
      this.detected++;
      const fp = fingerprint(err);
      const s = this.seen.get(fp);
      if (s) s.count++;
      else {
        this.seen.set(fp, {
          count: 1,
          err,
          entry: e,
          msg: typeof obj.msg === 'string' ? obj.msg : undefined,
          time: typeof obj.time === 'string' ? obj.time : undefined,
        });
      }
      const own = this.owned.get(fp);
      if (own) own.lastEntryId = e.id;
    }
  }

  async tick(now = Date.now()): Promise<void> {
    const { redis, keys, windowMs } = this.o;
    const batch = this.seen;
    this.seen = new Map();
    for (const [fp, s] of batch) {
      const key = keys.keeperException(fp);
      let n: number;
      try {
        n = await redis.hincrby(key, 'n', s.count);
      } catch (err) {
        const prev = this.seen.get(fp);
        if (prev) prev.count += s.count;
        else this.seen.set(fp, s);
        throw err;
      }
      if (n !== s.count) continue; // the window was already open (here or at another keeper)
      // we opened the window: email now, digest when it closes; the TTL only cleans up after a dead owner
      await redis.pexpire(key, windowMs + 60_000);
      this.owned.set(fp, { dueAt: now + windowMs, first: s, lastEntryId: s.entry.id });
      await this.o.notifier.send({
        kind: 'exception',
        subject: `Filmgrain: ${s.entry.role} ${s.entry.proc}: ${oneLine(s.err)}`.slice(0, 200),
        text: describe(s, fp, windowMs),
      });
    }
    for (const [fp, own] of this.owned) {
      if (own.dueAt > now) continue;
      const key = keys.keeperException(fp);
      const res = await redis.multi().hget(key, 'n').del(key).exec();
      this.owned.delete(fp);
      const total = Number(res?.[0]?.[1] ?? 0);
      const more = total - 1;
      if (more <= 0) continue;
      await this.o.notifier.send({
        kind: 'digest',
        subject: `Filmgrain: ${oneLine(own.first.err)} — ${more} more time${more === 1 ? '' : 's'}`.slice(
          0,
          200,
        ),
        text:
          `The exception below was logged ${total} times in ${Math.round(windowMs / 1000)}s ` +
          `(first emailed at once, ${more} more since). Last entry: ${own.lastEntryId}.\n\n` +
          describe(own.first, fp, windowMs),
      });
    }
  }
}

function oneLine(e: LoggedError): string {
  const first = e.stack.split('\n', 1)[0] ?? '';
  return (e.message ? `${e.type ? `${e.type}: ` : ''}${e.message}` : first)
    .replace(/\s+/g, ' ')
    .slice(0, 160);
}

function describe(s: Seen, fp: string, windowMs: number): string {
  return [
    `Role: ${s.entry.role}  Process: ${s.entry.proc}  Host: ${s.entry.host}`,
    `Time: ${s.time ?? '?'}  Level: ${s.entry.level}  Log entry: ${s.entry.id}`,
    s.msg ? `Message: ${s.msg}` : '',
    `Fingerprint: ${fp} (repeats within ${Math.round(windowMs / 1000)}s go into one digest)`,
    '',
    s.err.stack,
  ]
    .filter((l, i) => l !== '' || i === 4)
    .join('\n');
}
