// The keeper's archive against a real redis-server and a real moto_server (S3): round trip, S3 outage with
// the spool and backpressure, two keepers sharing one consumer group.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AlertFieldsSchema, KEEPER_GROUP, redisContract } from '../../protocol/redis-contract.ts';
import { RedisLogSink } from '../../roles/runtime/log-sink.ts';
import { createLogger } from '../../roles/runtime/logger.ts';
import {
  killTracked,
  makeTempDir,
  type Moto,
  type RedisServer,
  sleep,
  startMoto,
  startRedis,
  waitFor,
  waitForLine,
} from '../harness/index.ts';
import {
  compareIds,
  createBucket,
  type InProcessKeeper,
  pendingCount,
  readDirArchive,
  readS3Archive,
  spawnKeeper,
  startKeeper,
  uniqueByEntry,
  xaddLines,
} from './helpers.ts';

let redis: RedisServer;
let moto: Moto;
const getRedis = () => redis;
const getMoto = () => moto;
let client: Redis;
const keepers: InProcessKeeper[] = [];
const BUCKET = 'fg-archive';

beforeAll(async () => {
  [redis, moto] = await Promise.all([startRedis(), startMoto()]);
  client = new Redis(getRedis().url, { maxRetriesPerRequest: null });
  // the keeper's S3 client reads AWS_ENDPOINT_URL and the credentials from the environment, like in production
  Object.assign(process.env, getMoto().env);
  await createBucket(getMoto(), BUCKET);
});
afterAll(async () => {
  for (const k of keepers) await k.stop().catch(() => {});
  client?.disconnect();
  await Promise.all([redis?.stop(), moto?.stop()]);
});

async function keeper(args: string[]): Promise<InProcessKeeper> {
  const k = await startKeeper(['--redis', getRedis().url, ...args]);
  keepers.push(k);
  return k;
}

describe('keeper archive', () => {
  it('archives every line to S3: objects decompress to exactly the lines logged, in order per role', async () => {
    const prefix = 'rt:';
    const keys = redisContract(prefix);
    const k = await keeper([
      '--prefix',
      prefix,
      '--id',
      'k-rt',
      '--archive',
      `s3://${BUCKET}/fleet`,
      '--flush',
      '200ms',
      '--batch',
      '100',
      '--spool-dir',
      makeTempDir('spool-rt'),
    ]);

    // two roles logging through the real runtime logger → Redis log sink, as the fleet does
    const logged = new Map<string, string[]>();
    const sinks: RedisLogSink[] = [];
    const loggers = [
      { role: 'feeder', id: 'f1', host: 'host-a' },
      { role: 'endpoint', id: 'e1', host: 'host-b' },
    ].map((src) => {
      const lines: string[] = [];
      logged.set(`${src.role}/${src.id}`, lines);
      const sink = new RedisLogSink({ redis: client, stream: keys.logStream, ...src });
      sinks.push(sink);
      return createLogger({
        ...src,
        level: 'info',
        sink,
        stdout: { write: (s: string) => lines.push(s.endsWith('\n') ? s.slice(0, -1) : s) },
      });
    });
    for (let i = 0; i < 250; i++) {
      loggers[0]!.info({ i, text: `tweet "quoted" \\ backslash ünïcødé 🎬 ${i}` }, 'tweet matched');
      loggers[1]!.warn({ i, client: `10.0.0.${i % 250}` }, 'slow client\nsecond line');
      if (i % 50 === 0) await sleep(20);
    }
    // a line that is not JSON (the stream accepts anything): archived wrapped, still recoverable
    const [rawId] = await xaddLines(client, keys, { role: 'feeder', id: 'f1', host: 'host-a' }, [
      'plain text {not json',
    ]);
    for (const s of sinks) await s.drain(5000);
    expect(logged.get('feeder/f1')).toHaveLength(250);

    let archived: Awaited<ReturnType<typeof readS3Archive>> = [];
    await waitFor(
      async () => {
        archived = await readS3Archive(getMoto(), BUCKET, 'fleet');
        const ids = new Set(archived.map((a) => a.entryId));
        const u = uniqueByEntry(archived);
        const count = (id: string) => u.filter((a) => a.line.includes(`"id":"${id}"`)).length;
        return ids.has(rawId!) && count('f1') === 250 && count('e1') === 250;
      },
      30_000,
      'all lines in S3',
    );
    const unique = uniqueByEntry(archived);
    for (const [src, lines] of logged) {
      const [role, id] = src.split('/');
      const got = unique
        .filter((a) => a.line.startsWith('{'))
        .filter((a) => {
          const o = JSON.parse(a.line) as { role?: string; id?: string };
          return o.role === role && o.id === id;
        })
        .map((a) => a.line);
      // the sink splices each line's own id (`lid`, <boot>.<seq>) in as its last field: one boot, seq 0, 1, 2 …
      const lids = got.map((l) => (JSON.parse(l) as { lid?: string }).lid);
      const boot = lids[0]?.split('.')[0];
      expect(lids).toEqual(lines.map((_, i) => `${boot}.${i}`));
      expect(got.map((l) => l.replace(/,"lid":"[^"]+"}$/, '}'))).toEqual(lines);
    }
    expect(unique.find((a) => a.entryId === rawId)?.line).toBe('plain text {not json');
    // no copy was stored twice without a failure
    expect(archived.length).toBe(unique.length);

    // keys: PREFIX/logs/YYYY/MM/DD/HH/<keeper>-<first entry id>.ndjson.gz, the hour of the first entry
    const byKey = new Map<string, string[]>();
    for (const a of archived) byKey.set(a.key, [...(byKey.get(a.key) ?? []), a.entryId]);
    expect(byKey.size).toBeGreaterThanOrEqual(5);
    for (const [key, ids] of byKey) {
      const m = /^fleet\/logs\/(\d{4})\/(\d{2})\/(\d{2})\/(\d{2})\/k-rt-(\d+-\d+)\.ndjson\.gz$/.exec(key);
      expect(m, key).not.toBeNull();
      expect(m![5]).toBe(ids[0]);
      const d = new Date(Number(ids[0]!.split('-')[0]));
      expect(`${m![1]}-${m![2]}-${m![3]}T${m![4]}`).toBe(d.toISOString().slice(0, 13));
      // lines inside one object are in stream order
      expect([...ids].sort(compareIds)).toEqual(ids);
    }

    // acknowledged after storing: a graceful stop flushes and leaves nothing pending
    await k.stop();
    expect(await pendingCount(client, keys)).toBe(0);
  }, 90_000);

  it('spools while S3 is down, acknowledges nothing unstored, pauses reading when the spool is full, uploads all after', async () => {
    const prefix = 'out:';
    const keys = redisContract(prefix);
    const spoolDir = makeTempDir('spool-out');
    const src = { role: 'feeder', id: 'f-out', host: 'host-o' };
    const k = await keeper([
      '--prefix',
      prefix,
      '--id',
      'k-out',
      '--archive',
      `s3://${BUCKET}/outage`,
      '--flush',
      '200ms',
      '--batch',
      '50',
      '--spool-dir',
      spoolDir,
      '--spool-max',
      '16kb',
    ]);
    const before = await xaddLines(
      client,
      keys,
      src,
      Array.from({ length: 50 }, (_, i) => JSON.stringify({ level: 30, phase: 'before', i })),
    );
    await waitFor(
      async () => {
        const ids = new Set((await readS3Archive(getMoto(), BUCKET, 'outage')).map((a) => a.entryId));
        return before.every((id) => ids.has(id));
      },
      20_000,
      'lines before the outage archived',
    );

    await getMoto().kill();
    const during: string[] = [];
    const spooled = () => fs.readdirSync(spoolDir).filter((f) => f.endsWith('.spool')).length;
    // incompressible payloads so the 16 KiB spool fills up
    for (let c = 0; c < 10; c++) {
      const lines = Array.from({ length: 40 }, (_, i) =>
        JSON.stringify({ level: 30, phase: 'during', i: c * 40 + i, pad: randomBytes(100).toString('hex') }),
      );
      during.push(...(await xaddLines(client, keys, src, lines)));
      await sleep(100);
    }
    await waitFor(() => spooled() >= 2, 20_000, 'objects in the spool');
    await waitFor(() => k.out.some((l) => l.includes('spool full')), 20_000, '"spool full" in the log');

    // nothing of the outage was acknowledged: every delivered entry is still pending; some were not even read
    const info = (await client.call('XINFO', 'GROUPS', keys.logStream)) as unknown[][];
    const group = info.map(pairs).find((g) => g.name === KEEPER_GROUP)!;
    const lastDelivered = String(group['last-delivered-id']);
    const pend = (await client.call(
      'XPENDING',
      keys.logStream,
      KEEPER_GROUP,
      '-',
      '+',
      '100000',
    )) as unknown[][];
    const pendingIds = new Set(pend.map((p) => String(p[0])));
    const delivered = during.filter((id) => compareIds(id, lastDelivered) <= 0);
    expect(delivered.length).toBeGreaterThan(0);
    for (const id of delivered)
      expect(pendingIds.has(id), `entry ${id} acknowledged while S3 was down`).toBe(true);
    expect(delivered.length, 'reading should pause once the spool is full').toBeLessThan(during.length);

    // S3 back (moto restarts empty: the operator's bucket exists again)
    await getMoto().start();
    await createBucket(getMoto(), BUCKET);
    let archived: Awaited<ReturnType<typeof readS3Archive>> = [];
    await waitFor(
      async () => {
        archived = await readS3Archive(getMoto(), BUCKET, 'outage');
        const ids = new Set(archived.map((a) => a.entryId));
        return during.every((id) => ids.has(id));
      },
      45_000,
      'every line logged during the outage archived',
    );
    const lines = uniqueByEntry(archived)
      .filter((a) => during.includes(a.entryId))
      .map((a) => (JSON.parse(a.line) as { i: number }).i);
    expect(lines).toEqual(Array.from({ length: 400 }, (_, i) => i));
    await waitFor(() => spooled() === 0, 10_000, 'spool emptied');
    await waitFor(
      async () => {
        const p = (await client.call(
          'XPENDING',
          keys.logStream,
          KEEPER_GROUP,
          '-',
          '+',
          '100000',
        )) as unknown[][];
        const ids = new Set(p.map((x) => String(x[0])));
        return during.every((id) => !ids.has(id));
      },
      10_000,
      'outage entries acknowledged after upload',
    );
    expect(k.out.some((l) => l.includes('archive reachable again'))).toBe(true);
    await k.stop();
  }, 90_000);

  it('a keeper restarted with its spool uploads what it spooled, without archiving it twice', async () => {
    const prefix = 'respool:';
    const keys = redisContract(prefix);
    const spoolDir = makeTempDir('spool-re');
    const args = [
      '--prefix',
      prefix,
      '--id',
      'k-re',
      '--archive',
      `s3://${BUCKET}/respool`,
      '--flush',
      '200ms',
      '--batch',
      '50',
      '--spool-dir',
      spoolDir,
    ];
    await getMoto().kill();
    const k1 = await keeper(args);
    const src = { role: 'feeder', id: 'f-re', host: 'host-r' };
    const ids = await xaddLines(
      client,
      keys,
      src,
      Array.from({ length: 120 }, (_, i) => JSON.stringify({ level: 30, re: i })),
    );
    const spooled = () => fs.readdirSync(spoolDir).filter((f) => f.endsWith('.spool')).length;
    await waitFor(() => spooled() >= 3, 20_000, 'objects in the spool');
    await k1.stop(); // entries stay pending in Redis, objects stay in the spool

    await getMoto().start();
    await createBucket(getMoto(), BUCKET);
    // other batch boundaries than the spooled objects: re-reading the pending entries would show as extra copies
    const k2 = await keeper([...args, '--batch', '35']);
    let archived: Awaited<ReturnType<typeof readS3Archive>> = [];
    await waitFor(
      async () => {
        archived = (await readS3Archive(getMoto(), BUCKET, 'respool')).filter((a) =>
          a.line.includes('"re":'),
        );
        const got = new Set(archived.map((a) => a.entryId));
        return ids.every((id) => got.has(id));
      },
      30_000,
      'spooled lines uploaded after the restart',
    );
    await waitFor(() => spooled() === 0, 10_000, 'spool emptied');
    expect(archived).toHaveLength(120); // the pending entries held in the spool were not read and stored again
    expect(k2.out.some((l) => l.includes('found spooled objects from an earlier run'))).toBe(true);
    await k2.stop();
    expect(await pendingCount(client, keys)).toBe(0);
  }, 90_000);

  it('an archive outage longer than --archive-alert-after → one alert with what is spooled; back → one recovery', async () => {
    const prefix = 'aout:';
    const keys = redisContract(prefix);
    const spoolDir = makeTempDir('spool-aout');
    const phone = '+15555550177';
    // SMS through a second moto that stays up; S3 is the one that goes down
    const sns = await startMoto();
    const alerts = async () =>
      (await client.xrange(keys.alerts, '-', '+')).map(([, f]) => AlertFieldsSchema.parse(fields(f)));
    const k = spawnKeeper(
      [
        '--redis',
        getRedis().url,
        '--prefix',
        prefix,
        '--id',
        'k-aout',
        '--archive',
        `s3://${BUCKET}/aout`,
        '--flush',
        '200ms',
        '--spool-dir',
        spoolDir,
        '--alert-sms',
        phone,
        '--archive-alert-after',
        '1500ms',
      ],
      { ...getMoto().env, AWS_ENDPOINT_URL: sns.endpoint, AWS_ENDPOINT_URL_S3: getMoto().endpoint },
      'keeper-aout',
    );
    const src = { role: 'feeder', id: 'f-aout', host: 'host-a' };
    try {
      await waitForLine(k, /keeper running/, 20_000);
      const first = await xaddLines(client, keys, src, ['{"level":30,"n":0}']);
      await waitFor(
        async () => (await readS3Archive(getMoto(), BUCKET, 'aout')).some((a) => a.entryId === first[0]),
        20_000,
        'archived before the outage',
      );
      await getMoto().kill();
      for (let i = 1; i <= 5; i++) {
        await xaddLines(client, keys, src, [`{"level":30,"n":${i}}`]);
        await sleep(300);
      }
      await waitFor(
        async () => (await alerts()).some((a) => a.kind === 'archive_down'),
        20_000,
        'outage alert',
      );
      const down = (await alerts()).find((a) => a.kind === 'archive_down')!;
      expect(down.delivered).toBe('sms');
      expect(down.text).toMatch(/Spooled: [1-9]\d* objects, [1-9]\d* log lines/);
      expect(down.text).toContain(spoolDir);
      await sleep(3000); // still down: no second alert
      expect((await alerts()).map((a) => a.kind)).toEqual(['archive_down']);

      await getMoto().start();
      await createBucket(getMoto(), BUCKET);
      await waitFor(
        async () => (await alerts()).some((a) => a.kind === 'archive_up'),
        30_000,
        'recovery alert',
      );
      await sleep(2000);
      expect((await alerts()).map((a) => [a.kind, a.delivered])).toEqual([
        ['archive_down', 'sms'],
        ['archive_up', 'sms'],
      ]);
      const sms = (await sns.sentSms()).filter((m) => m.phone === phone);
      expect(sms).toHaveLength(2);
      expect(sms[0]!.message).toMatch(/archive unreachable/);
      expect(sms[1]!.message).toMatch(/archive reachable again/);
    } finally {
      await killTracked(k);
      await sns.stop();
    }
  }, 90_000);

  it('two keepers in one group share the work; each line archived once', async () => {
    const prefix = 'two:';
    const keys = redisContract(prefix);
    const dir = makeTempDir('archive-two');
    const common = ['--prefix', prefix, '--archive', `file://${dir}`, '--flush', '100ms', '--batch', '100'];
    const a = await keeper([...common, '--id', 'k-a', '--spool-dir', makeTempDir('spool-a')]);
    const b = await keeper([...common, '--id', 'k-b', '--spool-dir', makeTempDir('spool-b')]);
    const src = { role: 'endpoint', id: 'e-two', host: 'host-t' };
    const ids: string[] = [];
    for (let c = 0; c < 40; c++) {
      const lines = Array.from({ length: 50 }, (_, i) => JSON.stringify({ level: 30, n: c * 50 + i }));
      ids.push(...(await xaddLines(client, keys, src, lines)));
      await sleep(10);
    }
    let archived: Awaited<ReturnType<typeof readDirArchive>> = [];
    await waitFor(
      async () => {
        archived = await readDirArchive(dir);
        const got = new Set(archived.map((x) => x.entryId));
        return ids.every((id) => got.has(id));
      },
      30_000,
      'all 2000 lines archived',
    );
    const mine = archived.filter((x) => x.line.includes('"n":'));
    expect(mine).toHaveLength(2000);
    expect(new Set(mine.map((x) => x.entryId)).size).toBe(2000);
    const byKeeper = (p: string) => mine.filter((x) => x.key.split('/').pop()!.startsWith(`${p}-`)).length;
    expect(byKeeper('k-a')).toBeGreaterThan(0);
    expect(byKeeper('k-b')).toBeGreaterThan(0);
    expect(byKeeper('k-a') + byKeeper('k-b')).toBe(2000);
    await Promise.all([a.stop(), b.stop()]);
  }, 90_000);
});

function fields(f: string[]): Record<string, string> {
  return Object.fromEntries(Array.from({ length: f.length / 2 }, (_, i) => [f[2 * i], f[2 * i + 1]]));
}

function pairs(row: unknown[]): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (let i = 0; i + 1 < row.length; i += 2) o[String(row[i])] = row[i + 1];
  return o;
}
