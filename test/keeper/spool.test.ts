// The keeper's spool is a private folder: real keeper processes (bin/keeper.mjs) against a real redis-server
// and moto_server. A file planted in the spool with the key `../escaped.txt` is set aside, never written
// outside a file:// archive nor uploaded to S3; a spool folder another user owns or anyone may write to is
// refused at start with a clear error; the default spool is per user and 0700, its files 0600.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisContract } from '../../protocol/redis-contract.ts';
import {
  killTracked,
  makeTempDir,
  type Moto,
  type RedisServer,
  startMoto,
  startRedis,
  waitFor,
  waitForExit,
  waitForLine,
} from '../harness/index.ts';
import { createBucket, listKeys, readDirArchive, s3Client, spawnKeeper, xaddLines } from './helpers.ts';

let redis: RedisServer;
let moto: Moto;
const BUCKET = 'fg-spool';

beforeAll(async () => {
  [redis, moto] = await Promise.all([startRedis(), startMoto()]);
  await createBucket(moto, BUCKET);
});
afterAll(async () => {
  await Promise.all([redis?.stop(), moto?.stop()]);
});

const NOW = Date.UTC(2026, 0, 2, 3, 4, 5);
const goodKey = (id: string) => `logs/2026/01/02/03/k-planted-${id}.ndjson.gz`;

/** A spool file as Spool.add writes it: a JSON header line, then the gzip body. */
function plant(dir: string, seq: number, key: string, id: string, mode = 0o600): string {
  const line = JSON.stringify({ entry_id: id, level: 30, msg: `planted ${seq}` });
  const body = zlib.gzipSync(`${line}\n`);
  const file = path.join(dir, `${String(seq).padStart(10, '0')}-${id}.spool`);
  fs.writeFileSync(file, Buffer.concat([Buffer.from(`${JSON.stringify({ key, ids: [id] })}\n`), body]));
  fs.chmodSync(file, mode);
  return file;
}

function privateDir(prefix: string): string {
  const d = makeTempDir(prefix);
  fs.chmodSync(d, 0o700);
  return d;
}

function keeperArgs(prefix: string, archive: string, extra: string[] = []): string[] {
  return ['--redis', redis.url, '--prefix', prefix, '--archive', archive, '--flush', '200ms', ...extra];
}

describe('keeper spool', () => {
  it('file://: a planted "../escaped.txt" is set aside and never written outside the archive folder', async () => {
    const base = makeTempDir('spool-file');
    const archive = path.join(base, 'archive');
    fs.mkdirSync(archive);
    const spool = path.join(base, 'spool');
    fs.mkdirSync(spool, { mode: 0o700 });
    const bad = plant(spool, 0, '../escaped.txt', `${NOW}-0`);
    const badAbs = plant(spool, 1, `${base}/abs-escaped.txt`, `${NOW}-1`);
    const good = plant(spool, 2, goodKey(`${NOW}-2`), `${NOW}-2`);

    const k = spawnKeeper(
      keeperArgs('spf:', `file://${archive}`, ['--id', 'k-spf', '--spool-dir', spool]),
      {},
      'keeper-spool-file',
    );
    try {
      // the valid planted object is uploaded: the spool was read and drained
      await waitFor(
        async () => (await readDirArchive(archive)).some((l) => l.line.includes('planted 2')),
        20_000,
        'the valid spooled object in the archive',
      );
      await waitFor(() => !fs.existsSync(good), 10_000, 'the valid spool file removed after upload');
      expect(fs.existsSync(path.join(base, 'escaped.txt'))).toBe(false);
      expect(fs.existsSync(path.join(base, 'abs-escaped.txt'))).toBe(false);
      expect(fs.readdirSync(base).sort()).toEqual(['archive', 'spool']);
      await waitForLine(k, /set aside, not uploaded/, 10_000);
      // kept for a person to look at, renamed so it is never read again
      expect(fs.existsSync(`${bad}.bad`)).toBe(true);
      expect(fs.existsSync(`${badAbs}.bad`)).toBe(true);
      expect((await readDirArchive(archive)).map((l) => l.line)).toEqual([
        JSON.stringify({ level: 30, msg: 'planted 2' }),
      ]);
    } finally {
      await killTracked(k);
    }
  }, 60_000);

  it('S3: a planted "../escaped.txt" does not become an archive object', async () => {
    const spool = privateDir('spool-s3');
    plant(spool, 0, '../escaped.txt', `${NOW}-0`);
    plant(spool, 1, goodKey(`${NOW}-1`), `${NOW}-1`);
    const k = spawnKeeper(
      keeperArgs('sps:', `s3://${BUCKET}/fleet`, ['--id', 'k-sps', '--spool-dir', spool]),
      moto.env,
      'keeper-spool-s3',
    );
    const s3 = s3Client(moto);
    try {
      await waitFor(
        async () => (await listKeys(s3, BUCKET, '')).includes(`fleet/${goodKey(`${NOW}-1`)}`),
        20_000,
        'the valid spooled object in S3',
      );
      const all = await listKeys(s3, BUCKET, '');
      expect(all.filter((key) => key.includes('escaped'))).toEqual([]);
      await waitForLine(k, /set aside, not uploaded/, 10_000);
    } finally {
      s3.destroy();
      await killTracked(k);
    }
  }, 60_000);

  it('refuses a spool folder anyone may write to, or one that belongs to another user', async () => {
    const open = makeTempDir('spool-777');
    fs.chmodSync(open, 0o777);
    const k1 = spawnKeeper(
      keeperArgs('spr:', `file://${makeTempDir('spool-arch')}`, ['--id', 'k-spr1', '--spool-dir', open]),
      {},
      'keeper-spool-777',
    );
    expect(await waitForExit(k1, 20_000)).toBe(true);
    expect(k1.exitCode).toBe(2);
    const line1 = await waitForLine(k1, /FG_KEEPER_SPOOL/, 1000);
    expect(line1).toContain(open);
    expect(line1).toMatch(/writable by every user/);

    const group = privateDir('spool-g');
    fs.chmodSync(group, 0o770);
    const kg = spawnKeeper(
      keeperArgs('spr:', `file://${makeTempDir('spool-arch')}`, ['--id', 'k-sprg', '--spool-dir', group]),
      {},
      'keeper-spool-770',
    );
    expect(await waitForExit(kg, 20_000)).toBe(true);
    expect(kg.exitCode).toBe(2);
    expect(await waitForLine(kg, /FG_KEEPER_SPOOL/, 1000)).toMatch(/writable by its group/);

    if (process.getuid?.() !== 0) return; // chown needs root
    const foreign = privateDir('spool-foreign');
    plant(foreign, 0, goodKey(`${NOW}-9`), `${NOW}-9`);
    execFileSync('chown', ['-R', 'nobody', foreign]);
    const archive = makeTempDir('spool-arch');
    const k2 = spawnKeeper(
      keeperArgs('spr:', `file://${archive}`, ['--id', 'k-spr2', '--spool-dir', foreign]),
      {},
      'keeper-spool-foreign',
    );
    expect(await waitForExit(k2, 20_000)).toBe(true);
    expect(k2.exitCode).toBe(2);
    const line2 = await waitForLine(k2, /FG_KEEPER_SPOOL/, 1000);
    expect(line2).toMatch(/belongs to uid \d+, not to this user/);
    expect(await readDirArchive(archive)).toEqual([]);
  }, 60_000);

  it('the default spool is a per-user 0700 folder (not the shared temp dir); spooled files are 0600', async () => {
    const state = makeTempDir('spool-state');
    // S3 unreachable (nothing listens there): every object goes to the spool
    const env = { ...moto.env, XDG_STATE_HOME: state, AWS_ENDPOINT_URL: 'http://127.0.0.1:9' };
    const k = spawnKeeper(
      keeperArgs('spd:', `s3://${BUCKET}/down`, ['--id', 'k-spd']),
      env,
      'keeper-spool-def',
    );
    const dir = path.join(state, 'filmgrain', 'spool', 'k-spd');
    try {
      await waitForLine(k, /keeper running/, 20_000);
      expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
      expect(fs.statSync(path.join(state, 'filmgrain')).mode & 0o777).toBe(0o700);
      // a few log lines of the fleet → an object that cannot be stored → the spool
      const c = new Redis(redis.url);
      await xaddLines(c, redisContract('spd:'), { role: 'feeder', id: 'f', host: 'h' }, ['{"level":30}']);
      c.disconnect();
      let files: string[] = [];
      await waitFor(
        () => (files = fs.readdirSync(dir).filter((f) => f.endsWith('.spool'))).length > 0,
        20_000,
        'an object in the default spool',
      );
      for (const f of files) expect(fs.statSync(path.join(dir, f)).mode & 0o777).toBe(0o600);
    } finally {
      await killTracked(k);
    }
  }, 60_000);
});
