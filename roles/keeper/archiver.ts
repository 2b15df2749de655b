// Archives the log stream: consumer-group reads → batches → gzip'd NDJSON objects → target, XACK only after
// the object is stored. When the target fails, objects go to the on-disk spool and are uploaded (then
// acknowledged) once it is back; when the spool is full, reading stops and entries wait in Redis.
import type { Redis } from 'ioredis';
import { KEEPER_GROUP, type RedisContract } from '../../protocol/redis-contract.ts';
import type { Logger } from '../runtime/logger.ts';
import { onReadyAgain } from '../runtime/redis.ts';
import { type ArchiveObject, buildObject, type StreamEntry } from '../../protocol/archive-format.ts';
import type { Spool } from './spool.ts';
import { LineDedupe } from './dedupe.ts';
import type { ArchiveTarget } from '../../protocol/archive-target.ts';
import { sleep } from '../../kernel/sleep.ts';

export interface ArchiverOptions {
  /** command connection (XACK, XPENDING, XCLAIM) */
  redis: Redis;
  /** connection for the blocking XREADGROUP; should fail fast while Redis is down (no offline queue) */
  reader: Redis;
  keys: RedisContract;
  /** consumer name in the group: the keeper id */
  consumer: string;
  target: ArchiveTarget;
  spool: Spool;
  batch: number;
  flushMs: number;
  claimIdleMs: number;
  log: Logger;
  /** every entry read (live, own pending, claimed), before it is archived — for the alert monitors */
  onEntries?: (entries: StreamEntry[]) => void;
  /** objects being built/stored at once; reading pauses beyond this */
  maxInFlight?: number;
  /** entries per XREADGROUP */
  readCount?: number;
}

const CONTENT_TYPE = 'application/x-ndjson+gzip';
/** pause after a partial page (archiving is not latency-bound: objects are written every --flush) */
const READ_PAUSE_MS = 50;

/** Backoff of spool uploads: 500 ms doubling to 5 s — a returning S3 is noticed within seconds. */
export function retryDelay(attempt: number): number {
  return Math.min(5000, 500 * 2 ** Math.min(attempt, 4));
}

type RawEntry = [string, string[] | null];

export class Archiver {
  private readonly group = KEEPER_GROUP;
  private readonly stream: string;
  private readonly maxInFlight: number;
  private readonly readCount: number;
  private batch: StreamEntry[] = [];
  private batchStartedAt = 0;
  private inFlight = new Set<Promise<void>>();
  private inFlightEntries = 0;
  private skip?: Set<string>;
  private stopping = false;
  private stopped = false;
  private loop?: Promise<void>;
  private drainer?: Promise<void>;
  private wakers: Array<() => void> = [];
  private nextClaimAt = 0;
  private offReady?: () => void;
  private downSince = 0;
  private lastDownLog = 0;
  /** first failed store of the current streak of failures (0: the last store worked) */
  private failingSince = 0;
  private lastError = '';

  /** drops re-sent copies of lines (same lid) before they are batched */
  readonly dedupe = new LineDedupe();
  /** lines stored in the archive (each line once per copy stored) */
  archived = 0;
  objects = 0;
  /** entries read from the stream (live + own pending + claimed) */
  read = 0;
  claimed = 0;
  /** delivered entries that had been trimmed from the stream before they were read: lost */
  trimmed = 0;
  /** for /metrics: lines written to the spool, failed archive writes, and the time of each archive write */
  spooled = 0;
  failures = 0;
  onStored?: (seconds: number) => void;
  /** the last live read returned less than a full page: we are at the head of the stream */
  caughtUp = false;
  /** reading paused because the spool is full */
  backpressured = false;

  constructor(private readonly o: ArchiverOptions) {
    this.stream = o.keys.logStream;
    this.maxInFlight = o.maxInFlight ?? 3;
    this.readCount = o.readCount ?? Math.min(o.batch, 5000);
  }

  /** entries read but not stored yet (memory, in flight, spool) */
  get pending(): number {
    return this.batch.length + this.inFlightEntries + this.o.spool.entries;
  }

  get targetDown(): boolean {
    return this.downSince > 0;
  }

  /** Since when stores fail (0: the last one worked) and why; for the outage alert. */
  get failing(): { since: number; error: string } {
    return { since: this.failingSince, error: this.lastError };
  }

  async start(): Promise<void> {
    await this.ensureGroup();
    // a Redis restarted without persistence has no stream and no group: recreate them (MKSTREAM) at once
    // rather than on the reader's first NOGROUP, so roles' XADDs and God's readers find them
    this.offReady = onReadyAgain(this.o.redis, () => void this.ensureGroup().catch(() => {}));
    await this.o.spool.init();
    if (this.o.spool.size > 0) {
      this.skip = this.o.spool.ids();
      this.downSince = Date.now(); // new objects queue behind the spooled ones
      this.o.log.info(
        { spool_objects: this.o.spool.size, spool_bytes: this.o.spool.bytes, dir: this.o.spool.dir },
        'found spooled objects from an earlier run; uploading them first',
      );
    }
    this.drainer = this.drainSpool();
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.offReady?.();
    this.wake();
    await this.loop;
    this.cut();
    await Promise.allSettled([...this.inFlight]);
    this.stopped = true;
    this.wake();
    await this.drainer;
  }

  private wake(): void {
    const w = this.wakers;
    this.wakers = [];
    for (const f of w) f();
  }

  private wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wakers.push(done);
    });
  }

  private async ensureGroup(): Promise<void> {
    try {
      await this.o.redis.xgroup('CREATE', this.stream, this.group, '0', 'MKSTREAM');
      this.o.log.info({ group: this.group, stream: this.stream }, 'created the keeper consumer group');
    } catch (err) {
      if (!/BUSYGROUP/.test((err as Error).message)) throw err;
    }
  }

  private async run(): Promise<void> {
    let failures = 0;
    let history = true;
    let cursor = '0';
    let ahead: Promise<RawEntry[] | null> | undefined;
    while (!this.stopping) {
      try {
        await this.waitForRoom();
        if (this.stopping) break;
        if (history) {
          // our own pending entries first (a restart under the same id): delivered before, never acknowledged
          const entries = await this.readGroup(cursor, 0);
          if (entries === null || entries.length === 0) {
            history = false;
            this.skip = undefined;
          } else {
            cursor = entries[entries.length - 1]![0];
            this.accept(entries);
          }
        } else {
          if (Date.now() >= this.nextClaimAt) {
            this.nextClaimAt = Date.now() + Math.max(250, this.o.claimIdleMs / 2);
            await this.claimDead();
          }
          const block = this.batch.length
            ? Math.max(10, Math.min(1000, this.batchStartedAt + this.o.flushMs - Date.now()))
            : 1000;
          const pre = ahead;
          ahead = undefined;
          const entries = await (pre ?? this.readGroup('>', block));
          const full = (entries?.length ?? 0) >= this.readCount;
          this.caughtUp = !full;
          // behind the head: ask Redis for the next page now, so it works while we build this one
          if (full && this.inFlight.size < this.maxInFlight && !this.o.spool.full) {
            ahead = this.readGroup('>', 0);
            ahead.catch(() => {}); // awaited (and its error handled) on the next turn
          }
          if (entries) this.accept(entries);
          // a partial page: let entries pile up a moment. Redis serves a blocked reader on the first XADD of a
          // producer's pipeline, so reading again at once would ping-pong one entry per round trip.
          if (!full && entries?.length) await this.wait(READ_PAUSE_MS);
        }
        if (this.batch.length && Date.now() - this.batchStartedAt >= this.o.flushMs) this.cut();
        failures = 0;
      } catch (err) {
        if (this.stopping) break;
        const msg = (err as Error).message;
        if (/NOGROUP/.test(msg)) {
          // Redis lost the stream/group (restarted without persistence): recreate and go on
          await this.ensureGroup().catch(() => {});
          continue;
        }
        if (failures++ % 20 === 0) this.o.log.warn({ err: msg }, 'reading the log stream failed; retrying');
        await this.wait(Math.min(2000, 100 * 2 ** Math.min(failures, 5)));
      }
    }
    // a page read ahead is delivered to us: archive it too rather than leave it for a takeover
    const last = await ahead?.catch(() => null);
    if (last) this.accept(last);
  }

  private async readGroup(id: string, block: number): Promise<RawEntry[] | null> {
    const args = ['GROUP', this.group, this.o.consumer, 'COUNT', String(this.readCount)];
    if (block > 0) args.push('BLOCK', String(Math.round(block)));
    args.push('STREAMS', this.stream, id);
    return streamEntries(await this.o.reader.call('XREADGROUP', ...args));
  }

  /** Turn raw entries into batches; entries trimmed away before we read them are acknowledged and counted. */
  private accept(raw: RawEntry[]): void {
    const fresh: StreamEntry[] = [];
    const gone: string[] = [];
    const copies: string[] = [];
    for (const [id, fields] of raw) {
      if (!fields) {
        gone.push(id);
        continue;
      }
      if (this.skip?.has(id)) continue;
      const e = parseFields(id, fields);
      if (this.dedupe.isCopy(e.role, e.proc, e.lid)) copies.push(id);
      else fresh.push(e);
    }
    // a copy is acknowledged at once: its original is archived, or pending in this keeper's hands
    if (copies.length) void this.ack(copies);
    if (gone.length) {
      this.trimmed += gone.length;
      this.o.log.error(
        { entries: gone.length, first: gone[0] },
        'log entries were trimmed from the stream before they were archived (stream cap reached while pending)',
      );
      void this.ack(gone);
    }
    if (!fresh.length) return;
    this.read += fresh.length;
    this.o.onEntries?.(fresh);
    for (const e of fresh) {
      if (this.batch.length === 0) this.batchStartedAt = Date.now();
      this.batch.push(e);
      if (this.batch.length >= this.o.batch) this.cut();
    }
  }

  /** Close the current batch and store it in the background. */
  private cut(): void {
    if (!this.batch.length) return;
    const entries = this.batch;
    this.batch = [];
    this.inFlightEntries += entries.length;
    const p: Promise<void> = this.store(entries)
      .catch((err) => {
        // store() only fails when stopping; the entries stay pending in Redis
        this.o.log.warn({ err: (err as Error).message, entries: entries.length }, 'object not stored');
      })
      .finally(() => {
        this.inFlightEntries -= entries.length;
        this.inFlight.delete(p);
        this.wake();
      });
    this.inFlight.add(p);
  }

  private async waitForRoom(): Promise<void> {
    while (!this.stopping && (this.inFlight.size >= this.maxInFlight || this.o.spool.full)) {
      if (this.o.spool.full && !this.backpressured) {
        this.backpressured = true;
        this.o.log.warn(
          { spool_bytes: this.o.spool.bytes, spool_max: this.o.spool.maxBytes, dir: this.o.spool.dir },
          'spool full: reading paused, new log entries wait in Redis until the archive is back',
        );
      }
      await this.wait(250);
    }
    if (this.backpressured && !this.o.spool.full) {
      this.backpressured = false;
      this.o.log.info({ spool_bytes: this.o.spool.bytes }, 'spool has room again: reading resumed');
    }
  }

  private async store(entries: StreamEntry[]): Promise<void> {
    const obj = await buildObject(this.o.consumer, entries);
    if (!this.targetDown) {
      try {
        const t0 = performance.now();
        await this.o.target.put(obj.key, obj.body, CONTENT_TYPE);
        this.onStored?.((performance.now() - t0) / 1000);
        this.failingSince = 0;
        await this.ack(obj.ids);
        this.archived += obj.count;
        this.objects++;
        return;
      } catch (err) {
        this.markDown(err as Error);
      }
    }
    await this.toSpool(obj);
    this.spooled += obj.count;
  }

  private markDown(err: Error): void {
    const now = Date.now();
    this.failures++;
    if (!this.failingSince) this.failingSince = now;
    this.lastError = err.message;
    if (!this.downSince) {
      this.downSince = now;
      this.lastDownLog = now;
      this.o.log.warn(
        { err: err.message, target: this.o.target.url, spool: this.o.spool.dir },
        'archive unreachable: spooling objects locally and retrying',
      );
    } else if (now - this.lastDownLog > 30_000) {
      this.lastDownLog = now;
      this.o.log.warn(
        {
          err: err.message,
          down_s: Math.round((now - this.downSince) / 1000),
          spool_bytes: this.o.spool.bytes,
        },
        'archive still unreachable',
      );
    }
  }

  private async toSpool(obj: ArchiveObject): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.o.spool.add(obj);
        this.wake();
        return;
      } catch (err) {
        if (attempt % 10 === 0) {
          this.o.log.error(
            { err: (err as Error).message, dir: this.o.spool.dir },
            'cannot write to the spool folder (disk full? permissions?); holding the object in memory',
          );
        }
        // stopping: give up (stop() awaits this store); the entries stay pending in Redis for the next run
        if (this.stopping) throw err;
        await sleep(retryDelay(attempt));
      }
    }
  }

  /** Upload spooled objects oldest first; acknowledge each once stored. */
  private async drainSpool(): Promise<void> {
    let attempt = 0;
    while (!this.stopped) {
      const item = await this.o.spool.peek().catch((err) => {
        this.o.log.error({ err: (err as Error).message }, 'could not read a spool file');
        return undefined;
      });
      if (!item) {
        if (this.downSince && this.o.spool.size === 0) {
          this.o.log.info(
            { down_s: Math.round((Date.now() - this.downSince) / 1000) },
            'archive reachable again; spool uploaded',
          );
          this.downSince = 0;
        }
        await this.wait(this.downSince ? 1000 : 5000);
        continue;
      }
      try {
        const t0 = performance.now();
        await this.o.target.put(item.key, item.body, CONTENT_TYPE);
        this.onStored?.((performance.now() - t0) / 1000);
      } catch (err) {
        this.markDown(err as Error);
        await this.wait(retryDelay(attempt++));
        continue;
      }
      attempt = 0;
      this.failingSince = 0;
      await this.ack(item.ids);
      await this.o.spool.remove(item.file);
      this.archived += item.count;
      this.objects++;
    }
  }

  /** XACK, retried until Redis takes it: the object is stored, so forgetting the ack only costs a duplicate. */
  private async ack(ids: string[]): Promise<void> {
    for (let i = 0; i < ids.length; i += 10_000) {
      const chunk = ids.slice(i, i + 10_000);
      for (let attempt = 0; ; attempt++) {
        try {
          await this.o.redis.xack(this.stream, this.group, ...chunk);
          break;
        } catch (err) {
          const msg = (err as Error).message;
          // stopping: stop() awaits this store, so do not retry past it (the entries stay pending: a duplicate)
          if (/NOGROUP/.test(msg) || this.stopping) return;
          if (attempt % 10 === 0) this.o.log.warn({ err: msg }, 'XACK failed; retrying');
          await sleep(retryDelay(attempt));
        }
      }
    }
  }

  /**
   * Take over pending entries of keepers that are gone: no heartbeat key and idle for --claim-idle.
   * (Not a blind XAUTOCLAIM: a live keeper holding entries in its spool through a long S3 outage keeps them.)
   */
  private async claimDead(): Promise<void> {
    const { redis, keys, consumer, claimIdleMs } = this.o;
    let rows: unknown[][];
    try {
      rows = (await redis.call('XINFO', 'CONSUMERS', this.stream, this.group)) as unknown[][];
    } catch {
      return;
    }
    for (const row of rows) {
      const c = pairs(row);
      const name = String(c.name);
      const pending = Number(c.pending);
      const idle = Number(c.idle);
      if (name === consumer || idle < claimIdleMs) continue;
      if (await redis.exists(keys.heartbeat('keeper', name))) continue;
      if (pending === 0) {
        // a keeper that is gone with nothing pending: forget it so the group stays readable
        await redis.call('XGROUP', 'DELCONSUMER', this.stream, this.group, name).catch(() => {});
        continue;
      }
      let took = 0;
      // bounded per round so memory stays bounded; the next round goes on
      while (!this.stopping && took < this.o.batch * this.maxInFlight) {
        const pend = (await redis.call(
          'XPENDING',
          this.stream,
          this.group,
          'IDLE',
          String(claimIdleMs),
          '-',
          '+',
          String(this.readCount),
          name,
        )) as Array<[string, string, number, number]>;
        if (!pend.length) break;
        const ids = pend.map((p) => p[0]);
        const got = (await redis.call(
          'XCLAIM',
          this.stream,
          this.group,
          consumer,
          String(claimIdleMs),
          ...ids,
        )) as RawEntry[];
        took += ids.length;
        if (!got.length) break;
        this.claimed += got.length;
        this.cut(); // claimed entries are older: their own objects
        this.accept(got);
        this.cut();
      }
      if (took)
        this.o.log.info({ from: name, entries: took }, 'took over pending entries of a keeper that is gone');
    }
  }
}

/** Entries of a one-stream XREAD(GROUP) reply: RESP2 gives [[name, entries]], RESP3 a map (flattened [name, entries]). */
export function streamEntries(res: unknown): RawEntry[] | null {
  if (!Array.isArray(res) || res.length === 0) return null;
  if (typeof res[0] === 'string' || Buffer.isBuffer(res[0])) return (res[1] as RawEntry[]) ?? null;
  return ((res[0] as unknown[])[1] as RawEntry[]) ?? null;
}

function pairs(row: unknown[]): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (let i = 0; i + 1 < row.length; i += 2) o[String(row[i])] = row[i + 1];
  return o;
}

function parseFields(id: string, f: string[]): StreamEntry {
  const e: StreamEntry = { id, role: '', proc: '', host: '', level: '', line: '' };
  for (let i = 0; i + 1 < f.length; i += 2) {
    const k = f[i];
    const v = f[i + 1]!;
    if (k === 'line') e.line = v;
    else if (k === 'role') e.role = v;
    else if (k === 'id') e.proc = v;
    else if (k === 'host') e.host = v;
    else if (k === 'level') e.level = v;
    else if (k === 'lid') e.lid = v;
  }
  return e;
}
