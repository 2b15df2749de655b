// Exception alerts: a logged error with a stack is emailed at once; further copies of the same exception
// (same fingerprint) within --exception-window go into one digest email with their count, sent when the
// window closes. Counts live in Redis (HINCRBY) so two keepers sharing the stream send one email + one digest:
// the keeper whose increment opened the window owns it and sends both.
//
// On top of that, a global cap: at most --exception-max-emails emails (first occurrences and per-fingerprint
// digests) per window across all fingerprints and keepers. What goes over it is listed in one storm digest,
// so 500 distinct exceptions send the cap + 1 emails, not 500.
import type { Redis } from 'ioredis';
import type { RedisContract } from '../../protocol/redis-contract.ts';
import type { Logger } from '../runtime/logger.ts';
import type { StreamEntry } from '../../protocol/archive-format.ts';
import { errorOfLine, fingerprint, type LoggedError } from './fingerprint.ts';
import type { Notifier } from './notifier.ts';

export interface ExceptionOptions {
  redis: Redis;
  keys: RedisContract;
  windowMs: number;
  /** emails per window over all fingerprints; what is over goes into one storm digest */
  maxEmails: number;
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
  /** its first email was over the global cap (it is in the storm digest instead) */
  suppressed: boolean;
}

/** Lines of a storm digest at most (the rest is counted). */
const STORM_LINES = 500;

export class ExceptionMonitor {
  private seen = new Map<string, Seen>();
  private owned = new Map<string, Owned>();
  /** when the budget window we opened closes (0: we do not own one) */
  private budgetDueAt = 0;
  detected = 0;
  /** emails held back by the global cap (listed in a storm digest) */
  suppressed = 0;

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
      const own: Owned = { dueAt: now + windowMs, first: s, lastEntryId: s.entry.id, suppressed: false };
      this.owned.set(fp, own);
      if (!(await this.takeEmail(now))) {
        own.suppressed = true;
        await this.overBudget(fp, s, s.count);
        continue;
      }
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
      if (own.suppressed) {
        // the storm digest has its first count; repeats since then are added to it (or to the next one)
        const later = total - own.first.count;
        if (later > 0) await this.overBudget(fp, own.first, later);
        continue;
      }
      const more = total - 1;
      if (more <= 0) continue;
      if (!(await this.takeEmail(now))) {
        await this.overBudget(fp, own.first, more);
        continue;
      }
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
    if (this.budgetDueAt && this.budgetDueAt <= now) await this.sendStormDigest();
  }

  /** One email from the global budget; the keeper whose increment opens the window owns its storm digest. */
  private async takeEmail(now: number): Promise<boolean> {
    const { redis, keys, windowMs } = this.o;
    const n = await redis.hincrby(keys.keeperExceptionBudget, 'n', 1);
    if (n === 1) {
      await redis.pexpire(keys.keeperExceptionBudget, windowMs + 60_000);
      this.budgetDueAt = now + windowMs;
    }
    if (n <= this.o.maxEmails) return true;
    this.suppressed++;
    return false;
  }

  private async overBudget(fp: string, s: Seen, count: number): Promise<void> {
    const { redis, keys, windowMs } = this.o;
    await redis
      .multi()
      .hincrby(keys.keeperExceptionBudget, `over:${fp}`, count)
      .hsetnx(keys.keeperExceptionBudget, `about:${fp}`, `${s.entry.role} ${s.entry.proc}: ${oneLine(s.err)}`)
      // the TTL only cleans up after a dead owner; over-fields written after the owner's close wait for the next
      .pexpire(keys.keeperExceptionBudget, windowMs + 60_000)
      .exec();
  }

  private async sendStormDigest(): Promise<void> {
    const { redis, keys, windowMs, maxEmails } = this.o;
    this.budgetDueAt = 0;
    const res = await redis
      .multi()
      .hgetall(keys.keeperExceptionBudget)
      .del(keys.keeperExceptionBudget)
      .exec();
    const h = (res?.[0]?.[1] ?? {}) as Record<string, string>;
    const over: Array<{ fp: string; count: number; about: string }> = [];
    for (const [k, v] of Object.entries(h)) {
      if (!k.startsWith('over:')) continue;
      const fp = k.slice('over:'.length);
      over.push({ fp, count: Number(v), about: h[`about:${fp}`] ?? '?' });
    }
    if (!over.length) return;
    over.sort((a, b) => b.count - a.count || a.fp.localeCompare(b.fp));
    const occurrences = over.reduce((n, o) => n + o.count, 0);
    const shown = over.slice(0, STORM_LINES);
    await this.o.notifier.send({
      kind: 'digest',
      subject: `Filmgrain: exception storm — ${over.length} exception${over.length === 1 ? '' : 's'} over the cap of ${maxEmails} emails`,
      text:
        `${Number(h.n ?? 0)} exception emails were due in ${Math.round(windowMs / 1000)}s; the cap is ${maxEmails} ` +
        `(--exception-max-emails). These ${over.length} fingerprints (${occurrences} occurrences) were not emailed one by one:\n` +
        shown.map((o) => `- ${o.fp} ×${o.count}  ${o.about}`).join('\n') +
        (over.length > shown.length ? `\n(+${over.length - shown.length} more fingerprints)` : ''),
    });
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
