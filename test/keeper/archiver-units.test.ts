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
import type { StreamEntry } from '../../protocol/archive-format.ts';
import { Spool } from '../../roles/keeper/spool.ts';
import { FileTarget } from '../../protocol/archive-target.ts';
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

const running: Archiver[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((a) => a.stop()));
});

let seq = 0;
interface Rig {
  keys: RedisContract;
  dir: string;
  spoolDir: string;
  logs: Array<{ msg: string; [k: string]: unknown }>;
  seen: StreamEntry[];
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
  return {
    keys,
    dir,
    spoolDir,
    logs,
    seen,
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
        onEntries: (e) => seen.push(...e),
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
  await a.stop();
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

  it('reads in pages of readCount and keeps reading until the stream is drained', async () => {
    const r = rig();
    const ids = await xaddLines(redis, r.keys, src, lines(47));
    const a = await r.start({ batch: 100, readCount: 5, flushMs: 50, maxInFlight: 1 });
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
    const r = rig();
    const broken = breakTarget(r.dir);
    const a = await r.start({ batch: 5, flushMs: 50 });
    const ids = await xaddLines(redis, r.keys, src, lines(12));
    await waitFor(() => a.targetDown && a.read === 12 && a.pending === 12, 10_000, 'all spooled');
    expect(a.archived).toBe(0);
    expect(a.failing.since).toBeGreaterThan(0);
    expect(a.failing.error).toMatch(/EEXIST|ENOTDIR/);
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
  });

  it('a full spool pauses reading (entries wait in Redis) until the spool has room again', async () => {
    const r = rig();
    const broken = breakTarget(r.dir);
    const a = await r.start({ batch: 5, readCount: 5, flushMs: 50, spoolMax: 1 });
    await xaddLines(redis, r.keys, src, lines(30));
    await waitFor(() => a.backpressured, 10_000, 'back-pressure');
    expect(r.logs.some((l) => l.msg.startsWith('spool full: reading paused'))).toBe(true);
    const lag = await undelivered(r.keys);
    expect(lag).toBeGreaterThan(0); // not read: they wait in the stream
    expect(a.read).toBeLessThanOrEqual(30 - lag); // (a page read ahead is delivered, not yet taken)
    expect(a.read).toBeLessThan(30);
    broken.restore();
    await waitFor(() => a.archived === 30, 30_000, 'everything archived after the outage');
    expect(a.backpressured).toBe(false);
    expect(r.logs.some((l) => l.msg === 'spool has room again: reading resumed')).toBe(true);
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
