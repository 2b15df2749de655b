// The Archiver class on its own against a real redis-server, a real folder archive (FileTarget) and a real
// spool: reading, batching, acknowledging only what is stored, restarts under the same id, entries trimmed
// while pending, taking over a dead keeper's entries, an archive outage (spool, back-pressure) and its end.
// Fast (no role processes, no S3), so it is also what Stryker runs against roles/keeper/archiver.ts.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { KEEPER_GROUP, type RedisContract, redisContract } from '../../protocol/redis-contract.ts';
import { Archiver, type ArchiverOptions, retryDelay, streamEntries } from '../../roles/keeper/archiver.ts';
import { decodeArchiveLine, type StreamEntry } from '../../protocol/archive-format.ts';
import { Spool } from '../../roles/keeper/spool.ts';
import { type ArchiveTarget, FileTarget } from '../../protocol/archive-target.ts';
import { sleep } from '../../kernel/sleep.ts';
import { createLogger } from '../../roles/runtime/logger.ts';
import { makeTempDir, useRedis, waitFor } from '../harness/index.ts';
import { pendingCount, readDirArchive, xaddLines } from './helpers.ts';

const server = useRedis();
let redis: Redis;
let reader: Redis;
beforeAll(() => {
  redis = new Redis(server().url);
  reader = new Redis(server().url, { enableOfflineQueue: false });
});
afterAll(() => {
  redis.disconnect();
  reader.disconnect();
});

let readerId: number | undefined;
/**
 * a.stop(), without waiting up to a second for the reader's blocking XREADGROUP to time out: Redis ends it
 * at once as if it had (CLIENT UNBLOCK), so the file stays fast.
 */
async function stopNow(a: Archiver): Promise<void> {
  const stopped = a.stop();
  readerId ??= Number(await reader.client('ID'));
  await redis.client('UNBLOCK', readerId).catch(() => {});
  await stopped;
}

const running: Archiver[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map(stopNow));
});

let seq = 0;
interface Rig {
  keys: RedisContract;
  dir: string;
  spoolDir: string;
  logs: Array<{ msg: string; [k: string]: unknown }>;
  seen: StreamEntry[];
  /** sizes of the lists given to onEntries, in order */
  calls: number[];
  start(o?: Partial<ArchiverOptions> & { spoolMax?: number }): Promise<Archiver>;
  archive(): ReturnType<typeof readDirArchive>;
}

function rig(): Rig {
  const keys = redisContract(`au${++seq}:`);
  const base = makeTempDir('archiver');
  const dir = path.join(base, 'archive');
  const spoolDir = path.join(base, 'spool');
  const logs: Rig['logs'] = [];
  const seen: StreamEntry[] = [];
  const calls: number[] = [];
  return {
    keys,
    dir,
    spoolDir,
    logs,
    seen,
    calls,
    async start(o = {}) {
      const log = createLogger({
        role: 'keeper',
        id: 'k1',
        host: 'h',
        level: 'info',
        stdout: { write: (s: string) => logs.push(JSON.parse(s)) },
      });
      const a = new Archiver({
        redis,
        reader,
        keys,
        consumer: 'k1',
        target: new FileTarget(dir),
        spool: new Spool(spoolDir, o.spoolMax ?? 64 * 1024 * 1024),
        batch: 10,
        flushMs: 60_000,
        claimIdleMs: 60_000,
        log,
        onEntries: (e) => {
          calls.push(e.length);
          seen.push(...e);
        },
        ...o,
      });
      running.push(a);
      await a.start();
      return a;
    },
    archive: () => readDirArchive(dir),
  };
}

const src = { role: 'feeder', id: 'f1', host: 'h1' };
const lines = (n: number, tag = 'l') =>
  Array.from({ length: n }, (_, i) => JSON.stringify({ msg: `${tag}${i}` }));

async function stop(a: Archiver): Promise<void> {
  running.splice(running.indexOf(a), 1);
  await stopNow(a);
}

/** Deliver `count` entries to `consumer` without acknowledging them (a keeper that read, then died). */
async function deliver(keys: RedisContract, consumer: string, count: number): Promise<string[]> {
  const res = await redis.call(
    'XREADGROUP',
    'GROUP',
    KEEPER_GROUP,
    consumer,
    'COUNT',
    count,
    'STREAMS',
    keys.logStream,
    '>',
  );
  return (streamEntries(res) ?? []).map(([id]) => id);
}

async function consumers(keys: RedisContract): Promise<Record<string, number>> {
  const rows = (await redis.call('XINFO', 'CONSUMERS', keys.logStream, KEEPER_GROUP)) as unknown[][];
  const out: Record<string, number> = {};
  for (const r of rows) out[String(r[1])] = Number(r[3]);
  return out;
}

/** Entries of the stream not delivered to any consumer of the group yet. */
async function undelivered(keys: RedisContract): Promise<number> {
  const g = (await redis.call('XINFO', 'GROUPS', keys.logStream)) as unknown[][];
  const row = g[0]!;
  const i = row.indexOf('lag');
  return Number(row[i + 1]);
}

/** Make the folder target fail (its folder is a file) until `restore()`. */
function breakTarget(dir: string): { restore(): void } {
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  fs.writeFileSync(dir, 'not a folder');
  return { restore: () => fs.rmSync(dir) };
}

/** Make the stream key a string (reads and XACKs fail with WRONGTYPE) until `restore()`; the group is kept aside. */
async function spoilStream(keys: RedisContract): Promise<{ restore(): Promise<void> }> {
  const aside = `${keys.logStream}:aside`;
  await redis.rename(keys.logStream, aside);
  await redis.set(keys.logStream, 'not a stream');
  return {
    async restore() {
      await redis.del(keys.logStream);
      await redis.rename(aside, keys.logStream);
    },
  };
}

/** Calls of a command that failed in Redis (INFO commandstats), e.g. `xreadgroup`. */
async function failedCalls(cmd: string): Promise<number> {
  const m = new RegExp(`cmdstat_${cmd}:.*failed_calls=(\\d+)`).exec(await redis.info('commandstats'));
  return Number(m?.[1] ?? 0);
}

const spoolFiles = (dir: string) => fs.readdirSync(dir).filter((f) => f.endsWith('.spool')).length;

/**
 * The folder archive, recording every put (failed ones too) and able to hold puts (an S3 PUT that hangs):
 * the test decides when an object is stored.
 */
class HeldTarget implements ArchiveTarget {
  readonly url: string;
  readonly puts: Array<{ ids: string[]; contentType: string; ok: boolean }> = [];
  private readonly inner: FileTarget;
  private gate?: { wait: Promise<void>; open(): void };

  constructor(dir: string) {
    this.inner = new FileTarget(dir);
    this.url = this.inner.url;
  }

  hold(): void {
    let open = () => {};
    const wait = new Promise<void>((resolve) => {
      open = resolve;
    });
    this.gate = { wait, open };
  }

  release(): void {
    this.gate?.open();
    this.gate = undefined;
  }

  /** entry ids of the objects stored, in the order they were stored */
  stored(): string[][] {
    return this.puts.filter((p) => p.ok).map((p) => p.ids);
  }

  async put(key: string, body: Buffer, contentType: string): Promise<void> {
    const text = zlib.gunzipSync(body).toString();
    const ids = text
      .split('\n')
      .filter((l) => l)
      .map((l) => decodeArchiveLine(l).entryId);
    const rec = { ids, contentType, ok: false };
    this.puts.push(rec);
    await this.gate?.wait;
    await this.inner.put(key, body); // (a folder keeps no content type)
    rec.ok = true;
  }

  probe(): Promise<void> {
    return this.inner.probe();
  }

  close(): void {}
}

describe('Archiver', () => {
  it('archives every entry once with its fields, in objects of --batch, acknowledging only what is stored', async () => {
    const r = rig();
    const ids = await xaddLines(redis, r.keys, src, lines(20));
    const rawIds = await xaddLines(
      redis,
      r.keys,
      { role: 'endpoint', id: 'e2', host: 'h2' },
      ['not json', 'x'],
      'warn',
    );
    const last = await xaddLines(redis, r.keys, src, lines(3, 'tail'));
    const a = await r.start();
    // 25 entries, batch 10, no flush due: two objects stored, five wait in memory — and are not acknowledged
    await waitFor(() => a.archived === 20, 10_000, 'two objects stored');
    await waitFor(() => a.caughtUp, 10_000, 'caught up');
    expect(a.objects).toBe(2);
    expect(a.read).toBe(25);
    expect(a.pending).toBe(5);
    expect(await pendingCount(redis, r.keys)).toBe(5);
    await stop(a); // stop stores the rest
    expect(a.archived).toBe(25);
    expect(a.objects).toBe(3);
    expect(a.pending).toBe(0);
    expect(await pendingCount(redis, r.keys)).toBe(0);

    const got = await r.archive();
    expect(got.map((l) => l.entryId).sort()).toEqual([...ids, ...rawIds, ...last].sort());
    expect(got.find((l) => l.entryId === ids[3])!.line).toBe('{"msg":"l3"}');
    expect(got.find((l) => l.entryId === rawIds[0])!.line).toBe('not json');
    // a line that is not JSON keeps the entry's role, process id and host in its wrapper
    const wrapped: unknown[] = [];
    for (const f of fs.readdirSync(path.join(r.dir, 'logs'), { recursive: true }).map(String)) {
      if (!f.endsWith('.ndjson.gz')) continue;
      const text = zlib.gunzipSync(fs.readFileSync(path.join(r.dir, 'logs', f))).toString();
      for (const l of text.split('\n')) if (l.includes('raw_entry_id')) wrapped.push(JSON.parse(l));
    }
    expect(wrapped).toEqual([
      { raw_entry_id: rawIds[0], role: 'endpoint', id: 'e2', host: 'h2', raw: 'not json' },
      { raw_entry_id: rawIds[1], role: 'endpoint', id: 'e2', host: 'h2', raw: 'x' },
    ]);
    // every entry was shown to the monitors once, with its fields
    expect(r.seen.map((e) => e.id)).toEqual([...ids, ...rawIds, ...last]);
    expect(r.seen[20]).toEqual({
      id: rawIds[0],
      role: 'endpoint',
      proc: 'e2',
      host: 'h2',
      level: 'warn',
      line: 'not json',
    });
    expect(r.seen[0]).toEqual({
      id: ids[0],
      role: 'feeder',
      proc: 'f1',
      host: 'h1',
      level: 'info',
      line: '{"msg":"l0"}',
    });
    // a quiet run: the group created (logged once), no warning or error, no outage or back-pressure messages
    expect(r.logs.filter((l) => l.msg === 'created the keeper consumer group')).toEqual([
      expect.objectContaining({ group: KEEPER_GROUP, stream: r.keys.logStream }),
    ]);
    expect(r.logs.filter((l) => Number(l.level) >= 40)).toEqual([]);
    const msgs = r.logs.map((l) => l.msg);
    expect(msgs).not.toContain('spool has room again: reading resumed');
    expect(msgs).not.toContain('archive reachable again; spool uploaded');
  });

  it('a start refuses a log stream key that is not a stream (only an existing group is fine)', async () => {
    const r = rig();
    await redis.set(r.keys.logStream, 'not a stream');
    await expect(r.start()).rejects.toThrow(/WRONGTYPE/);
  });

  it('an idle archiver waits in a blocking XREADGROUP rather than polling', async () => {
    const r = rig();
    await r.start();
    await waitFor(
      async () => /blocked_clients:1\r?\n/.test(await redis.info('clients')),
      10_000,
      'the reader blocked in Redis',
    );
  });

  it('stores a partial batch once --flush has passed', async () => {
    const r = rig();
    const a = await r.start({ flushMs: 50 });
    const ids = await xaddLines(redis, r.keys, src, lines(3));
    await waitFor(() => a.archived === 3, 10_000, 'the partial batch stored');
    expect(a.objects).toBe(1);
    expect(await pendingCount(redis, r.keys)).toBe(0);
    expect((await r.archive()).map((l) => l.entryId)).toEqual(ids);
  });

  it('stores a partial batch once --flush has passed with no more entries arriving (empty reads in between)', async () => {
    const r = rig();
    const a = await r.start({ flushMs: 300 });
    const ids = await xaddLines(redis, r.keys, src, lines(3));
    await waitFor(() => a.archived === 3, 10_000, 'the partial batch stored');
    await stop(a); // nothing left to store: no empty object
    expect(a.objects).toBe(1);
    expect((await r.archive()).map((l) => l.entryId)).toEqual(ids);
    expect(r.logs.filter((l) => Number(l.level) >= 40)).toEqual([]);
  });

  it('reads in pages of readCount and keeps reading until the stream is drained', async () => {
    const r = rig();
    const ids = await xaddLines(redis, r.keys, src, lines(47));
    // (and without an onEntries hook)
    const a = await r.start({ batch: 100, readCount: 5, flushMs: 50, maxInFlight: 1, onEntries: undefined });
    await waitFor(() => a.archived === 47, 10_000, 'all archived');
    expect((await r.archive()).map((l) => l.entryId).sort()).toEqual([...ids].sort());
    expect(a.caughtUp).toBe(true);
  });

  it('a restart under the same id archives its own unacknowledged entries and every line written while it was down', async () => {
    const r = rig();
    const first = await xaddLines(redis, r.keys, src, lines(5, 'a'));
    const a = await r.start();
    await waitFor(() => a.read === 5, 10_000, 'first lines read');
    await stop(a);
    expect(a.archived).toBe(5);
    // down: three lines were delivered to k1 but never stored (killed mid-batch), four more not read at all
    const more = await xaddLines(redis, r.keys, src, lines(7, 'b'));
    expect(await deliver(r.keys, 'k1', 3)).toEqual(more.slice(0, 3));
    const b = await r.start(); // the group exists (BUSYGROUP is fine)
    await waitFor(() => b.caughtUp && b.archived + b.pending === 7, 10_000, 'all read again');
    await stop(b);
    expect(b.archived).toBe(7);
    const got = (await r.archive()).map((l) => l.entryId);
    expect(got.sort()).toEqual([...first, ...more].sort()); // each once, none skipped
    expect(await pendingCount(redis, r.keys)).toBe(0);
  });

  it('entries trimmed from the stream while pending are counted as lost, logged and acknowledged', async () => {
    const r = rig();
    await redis.xgroup('CREATE', r.keys.logStream, KEEPER_GROUP, '0', 'MKSTREAM');
    const ids = await xaddLines(redis, r.keys, src, lines(3));
    await deliver(r.keys, 'k1', 3);
    await redis.xdel(r.keys.logStream, ids[0]!, ids[1]!);
    const a = await r.start({ flushMs: 50 });
    await waitFor(
      async () => a.archived === 1 && (await pendingCount(redis, r.keys)) === 0,
      10_000,
      'settled',
    );
    expect(a.trimmed).toBe(2);
    expect(a.read).toBe(1);
    expect((await r.archive()).map((l) => l.entryId)).toEqual([ids[2]]);
    const err = r.logs.find((l) => l.msg.includes('trimmed from the stream'));
    expect(err).toMatchObject({ level: 50, entries: 2, first: ids[0] });
  });

  it("takes over a dead keeper's pending entries, leaves a live keeper's alone and forgets empty dead consumers", async () => {
    const r = rig();
    await redis.xgroup('CREATE', r.keys.logStream, KEEPER_GROUP, '0', 'MKSTREAM');
    await xaddLines(redis, r.keys, src, lines(6));
    const dead = await deliver(r.keys, 'gone', 4);
    const live = await deliver(r.keys, 'alive', 2);
    await redis.call('XGROUP', 'CREATECONSUMER', r.keys.logStream, KEEPER_GROUP, 'empty');
    await redis.set(r.keys.heartbeat('keeper', 'alive'), '{}', 'EX', 60);
    await redis.call('XGROUP', 'CREATECONSUMER', r.keys.logStream, KEEPER_GROUP, 'idle-live');
    await redis.set(r.keys.heartbeat('keeper', 'idle-live'), '{}', 'EX', 60);
    const a = await r.start({ claimIdleMs: 100, batch: 3 });
    await waitFor(() => a.archived === 4, 10_000, "the dead keeper's entries archived");
    expect(a.claimed).toBe(4);
    const got = (await r.archive()).map((l) => l.entryId).sort();
    expect(got).toEqual([...dead].sort());
    const c = await consumers(r.keys);
    expect(c.alive).toBe(2); // a live keeper (heartbeat key) keeps its entries, e.g. spooled through an outage
    expect(c.gone ?? 0).toBe(0);
    // dead consumers with nothing pending are forgotten; a beating one is kept even when it holds nothing
    await waitFor(
      async () =>
        Object.keys(await consumers(r.keys))
          .sort()
          .join() === 'alive,idle-live,k1',
      10_000,
      'the empty dead consumers deleted',
    );
    expect(r.logs.find((l) => l.msg.includes('took over pending entries'))).toMatchObject({
      from: 'gone',
      entries: 4,
    });
    expect(live).toHaveLength(2);
  });

  it('spools while the archive fails, acknowledges nothing unstored, then uploads the spool and acknowledges', async () => {
    const t0 = Date.now();
    const r = rig();
    const broken = breakTarget(r.dir);
    const t = new HeldTarget(r.dir);
    const a = await r.start({ batch: 5, flushMs: 50, target: t });
    const ids = await xaddLines(redis, r.keys, src, lines(12));
    await waitFor(() => a.targetDown && a.read === 12 && a.pending === 12, 10_000, 'all spooled');
    expect(a.archived).toBe(0);
    expect(a.failing.since).toBeGreaterThan(0);
    expect(a.failing.error).toMatch(/EEXIST|ENOTDIR/);
    // the spool upload is retried; the outage keeps its start and is announced once
    const since = a.failing.since;
    const tries = t.puts.length;
    await waitFor(() => t.puts.length >= tries + 2, 10_000, 'the upload retried twice');
    expect(a.failing.since).toBe(since);
    expect(r.logs.filter((l) => l.msg.startsWith('archive unreachable'))).toHaveLength(1);
    expect(await pendingCount(redis, r.keys)).toBe(12);
    expect(fs.readdirSync(r.spoolDir).filter((f) => f.endsWith('.spool')).length).toBeGreaterThan(0);
    expect(r.logs.find((l) => l.msg.startsWith('archive unreachable'))).toMatchObject({
      target: `file://${r.dir}`,
    });

    broken.restore();
    await waitFor(() => !a.targetDown, 20_000, 'the archive noticed back');
    expect(a.archived).toBe(12);
    expect(a.pending).toBe(0);
    expect(a.failing.since).toBe(0);
    expect(await pendingCount(redis, r.keys)).toBe(0);
    expect(fs.readdirSync(r.spoolDir).filter((f) => f.endsWith('.spool'))).toEqual([]);
    expect((await r.archive()).map((l) => l.entryId).sort()).toEqual([...ids].sort());
    expect(r.logs.some((l) => l.msg === 'archive reachable again; spool uploaded')).toBe(true);
    // new entries go straight to the archive again
    const after = await xaddLines(redis, r.keys, src, lines(2, 'z'));
    await waitFor(() => a.archived === 14, 10_000, 'new entries archived');
    expect(fs.readdirSync(r.spoolDir).filter((f) => f.endsWith('.spool'))).toEqual([]);
    expect((await r.archive()).map((l) => l.entryId)).toEqual(expect.arrayContaining(after));
    expect(a.objects).toBe(t.stored().length);
    const back = r.logs.filter((l) => l.msg === 'archive reachable again; spool uploaded');
    expect(back).toHaveLength(1);
    // how long it was down, in seconds: within this test's own span
    expect(back[0]!.down_s).toBeGreaterThanOrEqual(0);
    expect(back[0]!.down_s).toBeLessThanOrEqual(Math.ceil((Date.now() - t0) / 1000));
    expect(new Set(t.puts.map((p) => p.contentType))).toEqual(new Set(['application/x-ndjson+gzip']));
  });

  it('a full spool pauses reading (entries wait in Redis) until the spool has room again', async () => {
    const r = rig();
    const broken = breakTarget(r.dir);
    const a = await r.start({ batch: 5, readCount: 5, flushMs: 50, spoolMax: 1 });
    await xaddLines(redis, r.keys, src, lines(30));
    await waitFor(() => a.backpressured, 10_000, 'back-pressure');
    expect(r.logs.find((l) => l.msg.startsWith('spool full: reading paused'))).toMatchObject({
      level: 40,
      spool_max: 1,
      dir: r.spoolDir,
      spool_bytes: expect.any(Number),
    });
    const lag = await undelivered(r.keys);
    expect(lag).toBeGreaterThan(0); // not read: they wait in the stream
    expect(a.read).toBeLessThanOrEqual(30 - lag); // (a page read ahead is delivered, not yet taken)
    expect(a.read).toBeLessThan(30);
    broken.restore();
    await waitFor(() => a.archived === 30, 30_000, 'everything archived after the outage');
    expect(a.backpressured).toBe(false);
    expect(r.logs.find((l) => l.msg === 'spool has room again: reading resumed')).toMatchObject({
      level: 30,
      spool_bytes: expect.any(Number),
    });
    expect(await undelivered(r.keys)).toBe(0);
    expect(await pendingCount(redis, r.keys)).toBe(0);
  });

  it('a restart with a spool from the earlier run uploads it first and archives each entry once', async () => {
    const r = rig();
    const broken = breakTarget(r.dir);
    const a = await r.start({ batch: 4, flushMs: 50 });
    const ids = await xaddLines(redis, r.keys, src, lines(8));
    const spooled = () => fs.readdirSync(r.spoolDir).filter((f) => f.endsWith('.spool')).length;
    await waitFor(() => a.targetDown && spooled() === 2, 10_000, 'two objects spooled');
    await stop(a);
    broken.restore();
    expect(await pendingCount(redis, r.keys)).toBe(8); // spooled, so still pending under k1
    const b = await r.start({ batch: 4, flushMs: 50 });
    expect(b.targetDown).toBe(true); // new objects queue behind the spooled ones
    expect(r.logs.some((l) => l.msg.startsWith('found spooled objects from an earlier run'))).toBe(true);
    await waitFor(
      async () => b.archived === 8 && (await pendingCount(redis, r.keys)) === 0,
      20_000,
      'spool uploaded',
    );
    await waitFor(() => !b.targetDown, 20_000, 'up again');
    expect(b.read).toBe(0); // its pending entries were the spooled ones: skipped, not archived twice
    const got = (await r.archive()).map((l) => l.entryId);
    expect(got.sort()).toEqual([...ids].sort());
  });

  it('recreates the stream and group when Redis lost them and goes on archiving', async () => {
    const r = rig();
    const a = await r.start({ flushMs: 50 });
    await xaddLines(redis, r.keys, src, lines(2));
    await waitFor(() => a.archived === 2, 10_000, 'first lines');
    await redis.del(r.keys.logStream); // like a Redis restarted without persistence
    const ids = await xaddLines(redis, r.keys, src, lines(3, 'n'));
    await waitFor(() => a.archived === 5, 10_000, 'lines after the loss');
    expect((await r.archive()).map((l) => l.entryId)).toEqual(expect.arrayContaining(ids));
  });
  it('acknowledges an object only once it is stored: while its PUT hangs it is pending, and reading waits for room', async () => {
    const r = rig();
    const t = new HeldTarget(r.dir);
    const spool = new Spool(r.spoolDir, 64 * 1024 * 1024);
    t.hold();
    const ids = await xaddLines(redis, r.keys, src, lines(20));
    const a = await r.start({ batch: 5, readCount: 5, maxInFlight: 1, target: t, spool });
    // page 1 is in flight, page 2 was read ahead (delivered, not taken yet)
    await waitFor(
      async () => t.puts.length === 1 && (await pendingCount(redis, r.keys)) === 10,
      10_000,
      'one object in flight, one page read ahead',
    );
    await sleep(300); // room for a wrong archiver to read or store more
    expect(t.puts.length).toBe(1); // --max-in-flight 1
    expect(a.read).toBe(5);
    expect(a.pending).toBe(5);
    expect(a.archived).toBe(0);
    expect(await pendingCount(redis, r.keys)).toBe(10); // nothing acknowledged before it is stored
    expect(spool.size).toBe(0); // a slow archive is not a down one: nothing spooled
    expect(a.caughtUp).toBe(false); // the page was full: behind the head
    expect(a.backpressured).toBe(false); // waiting for room is not a full spool
    expect(r.logs.filter((l) => Number(l.level) >= 40)).toEqual([]);

    t.release();
    await waitFor(
      async () => a.archived === 20 && (await pendingCount(redis, r.keys)) === 0,
      10_000,
      'everything stored and acknowledged',
    );
    expect(a.objects).toBe(4);
    expect(a.pending).toBe(0);
    expect(t.stored()).toEqual([ids.slice(0, 5), ids.slice(5, 10), ids.slice(10, 15), ids.slice(15)]);
    expect(new Set(t.puts.map((p) => p.contentType))).toEqual(new Set(['application/x-ndjson+gzip']));
  });

  it('a page read ahead when it stops is archived too, not left pending for a takeover', async () => {
    const r = rig();
    const t = new HeldTarget(r.dir);
    t.hold();
    const ids = await xaddLines(redis, r.keys, src, lines(15));
    const a = await r.start({ batch: 5, readCount: 5, maxInFlight: 1, target: t });
    await waitFor(
      async () => t.puts.length === 1 && (await pendingCount(redis, r.keys)) === 10,
      10_000,
      'one object in flight, one page read ahead',
    );
    const stopped = stop(a);
    t.release();
    await stopped;
    expect(a.archived).toBe(10);
    expect(await pendingCount(redis, r.keys)).toBe(0);
    expect(await undelivered(r.keys)).toBe(5); // never read: waits in the stream for the next run
    expect((await r.archive()).map((l) => l.entryId).sort()).toEqual(ids.slice(0, 10).sort());
  });

  it('a read error other than NOGROUP is logged once per streak and retried; archiving goes on once it clears', async () => {
    const r = rig();
    const a = await r.start({ flushMs: 50 });
    const warns = () => r.logs.filter((l) => l.msg === 'reading the log stream failed; retrying');
    for (const streak of [1, 2]) {
      const before = a.archived;
      await xaddLines(redis, r.keys, src, lines(2, `s${streak}`));
      await waitFor(() => a.archived === before + 2, 10_000, 'archiving works');
      const failed = await failedCalls('xreadgroup');
      const spoiled = await spoilStream(r.keys);
      await waitFor(
        async () => (await failedCalls('xreadgroup')) >= failed + 3,
        10_000,
        'three failed reads',
      );
      expect(warns()).toHaveLength(streak); // the first failure of each streak, not every one
      await spoiled.restore();
    }
    // (the blocked read is ended with "UNBLOCKED the stream key no longer exists", the next ones get WRONGTYPE)
    expect(warns()[0]).toMatchObject({ level: 40, err: expect.stringMatching(/UNBLOCKED|WRONGTYPE/) });
    await xaddLines(redis, r.keys, src, lines(2, 'end'));
    await waitFor(() => a.archived === 6, 10_000, 'archiving after the errors');
    expect(await pendingCount(redis, r.keys)).toBe(0);
  });

  it('an XACK that fails is retried until Redis takes it; a group lost meanwhile costs nothing', async () => {
    const r = rig();
    const t = new HeldTarget(r.dir);
    // one object at a time, pages never full: while a store is in flight the reader waits for room, so only
    // the store's XACK talks to the stream
    const a = await r.start({ batch: 3, readCount: 10, maxInFlight: 1, target: t });
    t.hold();
    await xaddLines(redis, r.keys, src, lines(3));
    await waitFor(() => t.puts.length === 1, 10_000, 'an object in flight');
    const failed = await failedCalls('xack');
    const spoiled = await spoilStream(r.keys);
    t.release();
    const xackFailed = () => r.logs.filter((l) => l.msg === 'XACK failed; retrying');
    await waitFor(async () => (await failedCalls('xack')) >= failed + 3, 10_000, 'three failed XACKs');
    expect(xackFailed()).toHaveLength(1); // logged once, not on every retry
    expect(xackFailed()[0]).toMatchObject({ level: 40, err: expect.stringMatching(/WRONGTYPE/) });
    expect(a.archived).toBe(0); // stored, but counted only once acknowledged
    await spoiled.restore();
    await waitFor(
      async () => a.archived === 3 && (await pendingCount(redis, r.keys)) === 0,
      10_000,
      'acknowledged on a retry',
    );

    // the stream and group are lost (Redis restarted empty) while an object is in flight
    t.hold();
    await xaddLines(redis, r.keys, src, lines(3, 'b'));
    await waitFor(() => t.puts.length === 2, 10_000, 'a second object in flight');
    await redis.del(r.keys.logStream);
    // a role writes lines: the stream is back, without the group
    const after = await xaddLines(redis, r.keys, src, lines(3, 'after'));
    t.release();
    // XACK on a stream without the group answers 0 (not an error): the object counts, nothing is retried,
    // and the reader recreates the group and archives what the stream holds now
    await waitFor(() => a.archived === 9, 10_000, 'the object and the lines written after the loss');
    expect(xackFailed()).toHaveLength(1);
    expect((await r.archive()).map((l) => l.entryId)).toEqual(expect.arrayContaining(after));
  });

  it('a restart while the archive is still down retries the spool; new objects queue behind it and all go up oldest first', async () => {
    const r = rig();
    const broken = breakTarget(r.dir);
    const a = await r.start({ batch: 4, flushMs: 50 });
    const old = await xaddLines(redis, r.keys, src, lines(8));
    await waitFor(() => a.targetDown && spoolFiles(r.spoolDir) === 2, 10_000, 'two objects spooled');
    await stop(a);

    const t = new HeldTarget(r.dir);
    const spool = new Spool(r.spoolDir, 64 * 1024 * 1024);
    const b = await r.start({ batch: 4, flushMs: 50, target: t, spool });
    await waitFor(() => b.failing.since > 0, 10_000, 'the spool upload failed'); // still down
    expect(b.failing.error).toMatch(/EEXIST|ENOTDIR/);
    // the archive comes back but answers slowly: what the new run reads goes behind the spooled objects
    t.hold();
    broken.restore();
    const fresh = await xaddLines(redis, r.keys, src, lines(4, 'n'));
    await waitFor(() => spool.entries === 12, 10_000, 'the new entries spooled behind the old ones');
    t.release();
    await waitFor(
      async () => b.archived === 12 && (await pendingCount(redis, r.keys)) === 0,
      20_000,
      'spool uploaded',
    );
    const stored = t.stored();
    expect(stored.slice(0, 2)).toEqual([old.slice(0, 4), old.slice(4)]);
    expect(stored.flat()).toEqual([...old, ...fresh]); // (the new ones may be one object or two)
    expect(b.read).toBe(4); // the spooled pending entries were skipped, not read again
    expect(r.calls).not.toContain(0); // and the monitors were not handed empty lists
  });
  it('a spool folder it cannot write holds the object in memory and retries; a stop then gives up on it (pending in Redis)', async () => {
    const r = rig();
    const broken = breakTarget(r.dir);
    // (the Spool's own add(), counted)
    const spool = new Spool(r.spoolDir, 64 * 1024 * 1024);
    const add = spool.add.bind(spool);
    let adds = 0;
    spool.add = (obj) => {
      adds++;
      return add(obj);
    };
    // --batch 3 and no flush due: the three lines are one object
    const a = await r.start({ batch: 3, spool });
    // the spool folder is gone (a disk unmounted) while the archive is down
    const spoilSpool = () => {
      fs.rmSync(r.spoolDir, { recursive: true, force: true });
      fs.writeFileSync(r.spoolDir, 'not a folder');
    };
    const mendSpool = () => {
      fs.rmSync(r.spoolDir);
      fs.mkdirSync(r.spoolDir, { mode: 0o700 });
    };
    const spoolErrors = () => r.logs.filter((l) => l.msg.startsWith('cannot write to the spool folder'));
    spoilSpool();
    const ids = await xaddLines(redis, r.keys, src, lines(3));
    await waitFor(() => spoolErrors().length === 1, 10_000, 'the spool error');
    expect(spoolErrors()[0]).toMatchObject({ level: 50, dir: r.spoolDir });
    expect(a.pending).toBe(3); // held in memory
    expect(await pendingCount(redis, r.keys)).toBe(3);
    await waitFor(() => adds >= 3, 10_000, 'two retries');
    expect(spoolErrors()).toHaveLength(1); // logged once, not on every retry
    mendSpool();
    await waitFor(() => spoolFiles(r.spoolDir) === 1, 10_000, 'spooled on a retry');
    expect(spoolErrors()).toHaveLength(1); // logged once, not on every retry
    broken.restore();
    await waitFor(
      async () => a.archived === 3 && (await pendingCount(redis, r.keys)) === 0,
      20_000,
      'uploaded once the archive is back',
    );
    expect((await r.archive()).map((l) => l.entryId)).toEqual(ids);

    // stopping while the object cannot be spooled: the stop ends, the entries stay pending for the next run
    const r2 = rig();
    breakTarget(r2.dir);
    const b = await r2.start({ batch: 3 });
    fs.rmSync(r2.spoolDir, { recursive: true, force: true });
    fs.writeFileSync(r2.spoolDir, 'not a folder');
    await xaddLines(redis, r2.keys, src, lines(3));
    await waitFor(() => r2.logs.some((l) => l.msg.startsWith('cannot write')), 10_000, 'the spool error');
    await stop(b);
    expect(b.archived).toBe(0);
    expect(await pendingCount(redis, r2.keys)).toBe(3);
    expect(r2.logs.find((l) => l.msg === 'object not stored')).toMatchObject({ level: 40, entries: 3 });
  });
  it('a stop while an XACK keeps failing ends: the stored object stays pending (a duplicate at most, never a loss)', async () => {
    const r = rig();
    const t = new HeldTarget(r.dir);
    const a = await r.start({ batch: 3, readCount: 10, maxInFlight: 1, target: t });
    t.hold();
    const ids = await xaddLines(redis, r.keys, src, lines(3));
    await waitFor(() => t.puts.length === 1, 10_000, 'an object in flight');
    const spoiled = await spoilStream(r.keys);
    t.release();
    await waitFor(() => r.logs.some((l) => l.msg === 'XACK failed; retrying'), 10_000, 'a failed XACK');
    await stop(a);
    await spoiled.restore();
    expect(await pendingCount(redis, r.keys)).toBe(3);
    expect((await r.archive()).map((l) => l.entryId)).toEqual(ids);
  });
  it('acknowledges an object of exactly 10 000 entries (XACK goes in chunks of 10 000)', async () => {
    const r = rig();
    await xaddLines(redis, r.keys, src, lines(10_000));
    const a = await r.start({ batch: 10_000 });
    await waitFor(
      async () => a.archived === 10_000 && (await pendingCount(redis, r.keys)) === 0,
      20_000,
      'the object stored and acknowledged',
    );
    expect(a.objects).toBe(1);
  });
});

describe('archiver helpers', () => {
  it('retryDelay: 500 ms doubling, capped at 5 s', () => {
    expect([0, 1, 2, 3, 4, 5, 9].map(retryDelay)).toEqual([500, 1000, 2000, 4000, 5000, 5000, 5000]);
  });

  it('streamEntries reads RESP2 and RESP3 replies of one stream', () => {
    const e = [['1-0', ['line', 'x']]];
    expect(streamEntries(null)).toBeNull();
    expect(streamEntries([])).toBeNull();
    expect(streamEntries([['s', e]])).toEqual(e);
    expect(streamEntries(['s', e])).toEqual(e);
    expect(streamEntries([Buffer.from('s'), e])).toEqual(e);
    expect(streamEntries(['s'])).toBeNull();
    expect(streamEntries([['s']])).toBeNull();
  });
});
