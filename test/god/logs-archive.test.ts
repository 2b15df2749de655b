// `god logs --since` beyond the stream, against a real redis-server and a real keeper archive written by the
// archive writer the keeper uses (protocol/archive-format.ts + archive-target.ts): a folder, and moto S3.
// Lines split between archive and stream — some in both, one archived twice — come out once each, in
// order, filtered alike; --until; a corrupt object is a warning naming it; no archive is a clear error.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  buildObject,
  decodeArchiveEntry,
  encodeArchiveLine,
  type StreamEntry,
} from '../../protocol/archive-format.ts';
import { FileTarget, openTarget } from '../../protocol/archive-target.ts';
import { archivedRecord, readHistory } from '../../god/core/logs-archive.ts';
import { LogRecordSchema, parseLogFilter } from '../../god/core/logs.ts';
import { connectFleetRedis, type FleetRedis } from '../../god/core/redis.ts';
import {
  makeTempDir,
  motoAvailable,
  recentOutput,
  spawnTracked,
  startMoto,
  useRedis,
  waitForExit,
  waitForLine,
} from '../harness/index.ts';
import { createBucket } from '../keeper/helpers.ts';
import { GOD_BIN, godIn, resultOf } from './cli-helpers.ts';

const HOUR = 3600_000;
const ROLES = ['feeder', 'endpoint', 'keeper'] as const;
const LEVELS = [30, 40, 50] as const;
const LEVEL_NAMES = { 30: 'info', 40: 'warn', 50: 'error' } as const;

/**
 * 15 lines, one every 4 hours from 60 h ago: 0-9 archived, 8-14 in the stream (8-9 in both: the object of
 * 6-9 starts before the stream and ends inside it).
 */
function makeEntries(now: number): StreamEntry[] {
  return Array.from({ length: 15 }, (_, i) => {
    const ms = now - 60 * HOUR + i * 4 * HOUR;
    const role = ROLES[i % 3]!;
    const level = LEVELS[i % 3]!;
    return {
      id: `${ms}-0`,
      role,
      proc: `${role}-1`,
      host: 'hostA',
      level: LEVEL_NAMES[level],
      line: JSON.stringify({
        level,
        time: new Date(ms).toISOString(),
        role,
        id: `${role}-1`,
        host: 'hostA',
        pid: 1,
        msg: `line ${i}${i === 4 ? ' needle' : ''}`,
      }),
    };
  });
}

/** The archive part as the keeper stores it: batches of lines, one object each; lines 3-4 twice (a retry). */
async function writeArchive(put: (key: string, body: Buffer) => Promise<void>, entries: StreamEntry[]) {
  const batches = [entries.slice(0, 3), entries.slice(3, 6), entries.slice(6, 10), entries.slice(3, 5)];
  for (const [i, batch] of batches.entries()) {
    // the copy comes from a second keeper that read the same entries (a claimed batch): another key
    const o = await buildObject(i === 3 ? 'keeper-2' : 'keeper-1', batch);
    await put(o.key, o.body);
  }
}

async function fillStream(fr: FleetRedis, entries: StreamEntry[]) {
  for (const e of entries) {
    await fr.redis.xadd(
      fr.keys.logStream,
      e.id,
      'role',
      e.role,
      'id',
      e.proc,
      'host',
      e.host,
      'level',
      e.level,
      'line',
      e.line,
    );
  }
}

const msgNo = (msg: string) => Number(/line (\d+)/.exec(msg)?.[1]);

describe('god logs --since with the keeper archive', () => {
  const redis = useRedis();
  let fr: FleetRedis;
  let dir: string;
  let archiveDir: string;
  let entries: StreamEntry[];
  let corruptKey: string;

  const logs = async (...args: string[]) => {
    const r = await godIn(['logs', '--json', ...args], { cwd: dir, env: { GOD_REDIS_URL: redis().url } });
    const data = resultOf(r, 'logs', z.object({ count: z.number() }), 'log');
    const got = r.lines.filter((l) => l.type === 'log').map((l) => LogRecordSchema.parse(l));
    expect(got).toHaveLength(data.count);
    return { got, nums: got.map((l) => msgNo(l.msg)), warnings: r.lines.filter((l) => l.type === 'warn') };
  };

  beforeAll(async () => {
    dir = makeTempDir('god-logs-archive');
    archiveDir = path.join(dir, 'archive');
    fs.writeFileSync(
      path.join(dir, 'god.config.yaml'),
      `roles:\n  keeper:\n    options:\n      archive: ${pathToFileURL(archiveDir).href}\n`,
    );
    fr = await connectFleetRedis(redis().url, { prefix: 'fg:' });
    entries = makeEntries(Date.now());
    const target = new FileTarget(archiveDir);
    await writeArchive((k, b) => target.put(k, b), entries);
    // an object that is not gzip (a truncated upload, a stray file), keyed in the range
    corruptKey = `logs/${new Date(Number(entries[1]!.id.split('-')[0])).toISOString().slice(0, 13).replace(/[-T]/g, '/')}/keeper-9-${entries[1]!.id.split('-')[0]}-5.ndjson.gz`;
    fs.mkdirSync(path.dirname(path.join(archiveDir, corruptKey)), { recursive: true });
    fs.writeFileSync(path.join(archiveDir, corruptKey), 'not gzip at all');
    await fillStream(fr, entries.slice(8));
  });
  afterAll(() => fr?.close());

  it('joins archive and stream: every line once, in order; a corrupt object is a warning naming it', async () => {
    const { got, nums, warnings } = await logs('--since', '3d');
    expect(nums).toEqual([...Array(15).keys()]);
    expect(new Set(got.map((l) => l.stream_id)).size).toBe(15);
    // an archived line reads as the stream entry it was
    expect(got[0]).toMatchObject({
      role: 'feeder',
      id: 'feeder-1',
      host: 'hostA',
      level: 'info',
      msg: 'line 0',
    });
    expect(got[0]!.stream_id).toBe(entries[0]!.id);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.message).toContain(`${pathToFileURL(archiveDir).href}/${corruptKey}`);
    expect(warnings[0]!.message).toMatch(/could not be read, skipped/);
  });

  it('filters the archived part as it filters the stream', async () => {
    expect((await logs('--since', '3d', '--role', 'endpoint')).nums).toEqual([1, 4, 7, 10, 13]);
    expect((await logs('--since', '3d', '--level', 'error')).nums).toEqual([2, 5, 8, 11, 14]);
    expect((await logs('--since', '3d', '--grep', 'NEEDLE')).nums).toEqual([4]);
    expect((await logs('--since', '3d', '--host', 'hostB')).nums).toEqual([]);
    // the newest N of the whole range, across the join
    expect((await logs('--since', '3d', '-n', '10')).nums).toEqual([5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
    // a --since that the stream covers does not read the archive
    expect((await logs('--since', '21h')).nums).toEqual([10, 11, 12, 13, 14]);
  });

  it('--until ends the range (archive only, and across the join)', async () => {
    // 60 h ago + 4 h·i ≤ now − 40 h  ⇔  i ≤ 5
    expect((await logs('--since', '3d', '--until', '40h')).nums).toEqual([0, 1, 2, 3, 4, 5]);
    expect((await logs('--since', '50h', '--until', '20h')).nums).toEqual([3, 4, 5, 6, 7, 8, 9, 10]);
    const bad = await godIn(['logs', '--since', '1h', '--until', '2h'], {
      cwd: dir,
      env: { GOD_REDIS_URL: redis().url },
    });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--until 2h is before --since 1h/);
  });

  it('a line that was not JSON comes back with the role, process and host it was stored with', () => {
    const raw = {
      id: '5-0',
      role: 'endpoint',
      proc: 'endpoint-3',
      host: 'hostC',
      level: 'info',
      line: 'plain text',
    };
    expect(archivedRecord(decodeArchiveEntry(encodeArchiveLine(raw)))).toMatchObject({
      stream_id: '5-0',
      role: 'endpoint',
      id: 'endpoint-3',
      host: 'hostC',
      msg: 'plain text',
    });
  });

  it('no archive configured: says what the stream holds and what to configure', async () => {
    const q = { ...parseLogFilter({ since: '3d' }) };
    const err = await readHistory(fr, q, {}).catch((e) => e);
    expect(err).toMatchObject({ code: 'GOD_LOGS_ARCHIVE' });
    expect(err.message).toMatch(
      /but the log stream holds 7 line\(s\) from .* \(the last 1d\d+h\), and no keeper archive/,
    );
    expect(err.hint).toMatch(/roles\.keeper\.options\.archive/);
    // within the stream, no archive is needed
    expect((await readHistory(fr, parseLogFilter({ since: '21h' }), {})).records).toHaveLength(5);
  });

  it.runIf(motoAvailable())('reads the archive from S3 (moto)', async () => {
    const moto = await startMoto();
    const saved = { ...process.env };
    try {
      Object.assign(process.env, moto.env);
      await createBucket(moto, 'fg-logs');
      const target = openTarget('s3://fg-logs/prod');
      await writeArchive((k, b) => target.put(k, b, 'application/x-ndjson+gzip'), entries);
      target.close();
      const fr2 = await connectFleetRedis(redis().url, { prefix: 'fg2:' });
      try {
        await fillStream(fr2, entries.slice(8));
        const { ArchiveReader } = await import('../../god/core/archive-reader.ts');
        const reader = new ArchiveReader('s3://fg-logs/prod');
        const h = await readHistory(fr2, parseLogFilter({ since: '3d', level: 'warn' }), { archive: reader });
        reader.close();
        expect(h.records.map((r) => msgNo(r.msg))).toEqual([1, 2, 4, 5, 7, 8, 10, 11, 13, 14]);
        expect(h.archived).toBe(5);
      } finally {
        fr2.close();
      }
    } finally {
      for (const k of Object.keys(moto.env)) delete process.env[k];
      Object.assign(process.env, saved);
      await moto.stop();
    }
  });

  it('a progress line on a TTY (stderr) while it reads the archive; none with --json', async () => {
    // script(1) gives the command a real pseudo-terminal (stdout and stderr both go to it)
    const tty = (...args: string[]) =>
      promisify(execFile)(
        'script',
        ['-qec', [process.execPath, GOD_BIN, 'logs', '--since', '3d', ...args].join(' '), '/dev/null'],
        {
          cwd: dir,
          env: { ...process.env, GOD_REDIS_URL: redis().url, NO_COLOR: '1' },
          timeout: 30_000,
        },
      );
    const plain = await tty();
    expect(plain.stdout).toMatch(/reading the archive: 5\/5 objects, \d+ lines/);
    expect(plain.stdout).toMatch(/line 14/);
    const json = await tty('--json');
    expect(json.stdout).toMatch(/"msg":"line 14"/);
    expect(json.stdout).not.toMatch(/reading the archive/);
  });

  // last: it adds lines to the stream
  it('-f goes on from the archive through the stream into the live tail, filtered, each line once', async () => {
    const child = spawnTracked(
      process.execPath,
      [GOD_BIN, 'logs', '-f', '--json', '--since', '3d', '--role', 'endpoint'],
      {
        cwd: dir,
        env: { ...process.env, GOD_REDIS_URL: redis().url },
        name: 'god-logs-f-archive',
      },
    );
    await waitForLine(child, /"msg":"line 13"/, 20_000); // archive and stream history first
    // the tail may not be blocking in XREAD yet: keep writing until a live line shows up
    let n = 15;
    const live = (role: string, i: number) => ({
      ...entries[0]!,
      id: '*',
      role,
      proc: `${role}-1`,
      line: JSON.stringify({ level: 30, role, id: `${role}-1`, host: 'hostA', msg: `line ${i}` }),
    });
    const writer = setInterval(() => {
      const a = live('endpoint', n++);
      const b = live('feeder', n++);
      void fillStream(fr, [a, b]);
    }, 200);
    try {
      await waitForLine(child, /"role":"endpoint".*"msg":"line (1[5-9]|[2-9]\d)"/, 20_000);
    } finally {
      clearInterval(writer);
    }
    child.kill('SIGINT');
    expect(await waitForExit(child, 10_000)).toBe(true);
    const got = recentOutput(child, 1000)
      .filter((l) => l.startsWith('{"type":"log"'))
      .map((l) => LogRecordSchema.parse(JSON.parse(l)));
    const nums = got.map((l) => msgNo(l.msg));
    expect(nums.slice(0, 5)).toEqual([1, 4, 7, 10, 13]);
    expect(nums.length).toBeGreaterThan(5);
    expect(got.every((l) => l.role === 'endpoint')).toBe(true);
    // in order, none twice
    for (let i = 1; i < nums.length; i++) expect(nums[i]!).toBeGreaterThan(nums[i - 1]!);
  });
});
