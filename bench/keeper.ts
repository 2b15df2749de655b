// Keeper benchmark: log lines/s archived end to end by a keeper process (bin/keeper.mjs), from the stream to
// stored and acknowledged (group lag 0, nothing pending), with N pino-like lines:
//   - drain: N lines already in the stream (a backlog, e.g. after an outage) — the keeper's own capacity
//   - live: one producer XADDs the N lines as fast as Redis takes them while the keeper archives them
// Measured in the same run:
//   - ceiling: the producer alone (XADD, pipelined) — the keeper cannot archive faster than lines arrive
//   - baseline: a naive archiver (XREADGROUP COUNT 1 → one gzip object per line → XACK)
//   - the keeper into S3 (moto_server; Python, so this measures moto as much as us)
//
//   npm run bench:keeper
//   BENCH_LINES=50000 BENCH_RUNS=1 npm run bench:keeper      # quick look
//
// Flags (each also an env var): --lines 150000 (BENCH_LINES), --runs 3 (BENCH_RUNS, medians),
// --naive-lines 5000 (BENCH_NAIVE_LINES), --s3-lines 50000 (BENCH_S3_LINES, 0 skips), --batch 20000 (BENCH_BATCH),
// --runtimes current,pinned (BENCH_RUNTIMES: the backlog drain also with the keeper on the release's pinned Node).
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { Command, Option } from 'commander';
import { Redis } from 'ioredis';
import { KEEPER_GROUP, LOG_STREAM_MAXLEN, redisContract } from '../protocol/redis-contract.ts';
import { createBucket, readS3Archive } from '../test/keeper/helpers.ts';
import { cleanupAll, makeTempDir, motoAvailable, startMoto, startRedis } from '../test/harness/index.ts';
import { naiveArchive } from './keeper/naive.ts';
import { benchRuntimes } from './runtimes.ts';

const opts = new Command('bench:keeper')
  .addOption(new Option('--lines <n>', 'lines per keeper run').env('BENCH_LINES').default('150000'))
  .addOption(new Option('--runs <n>', 'runs (medians)').env('BENCH_RUNS').default('3'))
  .addOption(
    new Option('--naive-lines <n>', 'lines for the naive baseline').env('BENCH_NAIVE_LINES').default('5000'),
  )
  .addOption(
    new Option('--s3-lines <n>', 'lines into S3 on moto (0 skips)').env('BENCH_S3_LINES').default('50000'),
  )
  .addOption(new Option('--batch <n>', 'keeper --batch').env('BENCH_BATCH').default('20000'))
  .addOption(
    new Option('--runtimes <list>', 'Node runtimes of the keeper process: current,pinned')
      .env('BENCH_RUNTIMES')
      .default('current'),
  )
  .parse()
  .opts();
const LINES = Number(opts.lines);
const RUNS = Number(opts.runs);
const NAIVE_LINES = Number(opts.naiveLines);
const S3_LINES = Number(opts.s3Lines);
const BATCH = String(opts.batch);
const RUNTIMES = await benchRuntimes(String(opts.runtimes));
if (LINES >= LOG_STREAM_MAXLEN)
  throw new Error(`--lines must stay below the stream cap ${LOG_STREAM_MAXLEN}`);

const ROOT = path.resolve(import.meta.dirname, '..');
const gunzip = promisify(zlib.gunzip);
const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

/** A pino-like line of ~300 bytes with varying fields, so gzip sees realistic text. */
function line(i: number): string {
  return JSON.stringify({
    level: 30,
    time: new Date(1_795_000_000_000 + i * 7).toISOString(),
    role: 'endpoint',
    id: `endpoint-ip-10-0-${i % 7}-${i % 13}-${1000 + (i % 97)}`,
    host: `ip-10-0-${i % 7}-${i % 13}`,
    pid: 1000 + (i % 97),
    client: `10.${i % 251}.${(i >> 8) % 251}.${i % 17}:${40_000 + (i % 20_000)}`,
    movie_id: (i * 7919) % 5000,
    clients: 9000 + (i % 1000),
    msg: i % 5 === 0 ? 'client subscribed to movie' : 'delivered tweet batch',
  });
}

async function produce(client: Redis, stream: string, n: number): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < n; i += 1000) {
    const p = client.pipeline();
    for (let j = i; j < Math.min(n, i + 1000); j++) {
      p.xadd(
        stream,
        'MAXLEN',
        '~',
        LOG_STREAM_MAXLEN,
        '*',
        'role',
        'endpoint',
        'id',
        'e1',
        'host',
        'h1',
        'level',
        'info',
        'line',
        line(j),
      );
    }
    await p.exec();
  }
  return performance.now() - t0;
}

async function groupDone(client: Redis, stream: string, n: number): Promise<boolean> {
  const groups = (await client.call('XINFO', 'GROUPS', stream)) as unknown[][];
  for (const g of groups) {
    const o: Record<string, unknown> = {};
    for (let i = 0; i + 1 < g.length; i += 2) o[String(g[i])] = g[i + 1];
    if (o.name !== KEEPER_GROUP) continue;
    return Number(o.pending) === 0 && Number(o.lag) === 0 && Number(o['entries-read']) >= n;
  }
  return false;
}

function spawnKeeper(
  args: string[],
  env: Record<string, string> = {},
  node = process.execPath,
): { child: ChildProcess; ready: Promise<void> } {
  const c = spawn(node, [path.join(ROOT, 'bin/keeper.mjs'), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.add(c);
  c.on('exit', () => children.delete(c));
  const ready = new Promise<void>((resolve, reject) => {
    let buf = '';
    const t = setTimeout(() => reject(new Error('keeper did not start within 60 s')), 60_000);
    c.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      if (buf.length > 100_000) buf = buf.slice(-10_000);
      if (buf.includes('"msg":"keeper running"')) {
        clearTimeout(t);
        resolve();
      }
    });
    c.once('exit', (code) => reject(new Error(`keeper exited with ${code} during start`)));
  });
  return { child: c, ready };
}

async function startKeeper(args: string[], env: Record<string, string> = {}): Promise<ChildProcess> {
  const { child, ready } = spawnKeeper(args, env);
  await ready;
  return child;
}

/** CPU time (user + system, ms) a process has used so far, from /proc. */
function cpuMs(pid: number | undefined): number {
  if (!pid) return Number.NaN;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK;
  } catch {
    return Number.NaN;
  }
}
const CLK_TCK = 100;

async function stopKeeper(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null) return;
  const done = new Promise((r) => c.once('exit', r));
  c.kill('SIGTERM');
  await done;
}

async function countArchivedLines(dir: string): Promise<number> {
  let n = 0;
  const base = path.join(dir, 'logs');
  for (const f of fs.readdirSync(base, { recursive: true }) as string[]) {
    if (!f.endsWith('.ndjson.gz')) continue;
    const text = (await gunzip(fs.readFileSync(path.join(base, f)))).toString();
    n += text
      .split('\n')
      .filter((l) => l.includes('"delivered tweet batch"') || l.includes('"client subscribed')).length;
  }
  return n;
}

function keeperArgs(redisUrl: string, prefix: string, archive: string): string[] {
  return [
    '--redis',
    redisUrl,
    '--prefix',
    prefix,
    '--id',
    `bench-${prefix.replace(/\W/g, '')}`,
    '--archive',
    archive,
    '--batch',
    BATCH,
    '--flush',
    '1s',
    '--spool-dir',
    makeTempDir('bench-spool'),
  ];
}

/** Live: producer and keeper together; ms from the first XADD until all N are stored and acknowledged. */
async function liveRun(
  redisUrl: string,
  client: Redis,
  prefix: string,
  archive: string,
  n: number,
  env = {},
) {
  const keys = redisContract(prefix);
  const k = await startKeeper(keeperArgs(redisUrl, prefix, archive), env);
  try {
    const t0 = performance.now();
    const produceMs = await produce(client, keys.logStream, n);
    while (!(await groupDone(client, keys.logStream, n))) await new Promise((r) => setTimeout(r, 20));
    return { rate: (n * 1000) / (performance.now() - t0), produceMs };
  } finally {
    await stopKeeper(k);
    await client.del(keys.logStream);
  }
}

async function entriesRead(client: Redis, stream: string): Promise<number> {
  const groups = (await client.call('XINFO', 'GROUPS', stream).catch(() => [])) as unknown[][];
  for (const g of groups) {
    const i = g.indexOf('entries-read');
    if (g[g.indexOf('name') + 1] === KEEPER_GROUP && i >= 0) return Number(g[i + 1] ?? 0);
  }
  return 0;
}

/** Drain: N lines already waiting; lines/s from the keeper's first read until all are stored and acknowledged. */
async function drainRun(
  redisUrl: string,
  client: Redis,
  prefix: string,
  archive: string,
  n: number,
  env = {},
  node = process.execPath,
) {
  const keys = redisContract(prefix);
  await produce(client, keys.logStream, n);
  const { child: k, ready } = spawnKeeper(keeperArgs(redisUrl, prefix, archive), env, node);
  let first = 0;
  for (;;) {
    first = await entriesRead(client, keys.logStream);
    if (first > 0) break;
    await new Promise((r) => setTimeout(r, 2));
  }
  const t0 = performance.now();
  const cpu0 = cpuMs(k.pid);
  const rcpu0 = cpuMs(redisPid());
  try {
    await ready;
    while (!(await groupDone(client, keys.logStream, n))) await new Promise((r) => setTimeout(r, 10));
    // the first read (`first` entries) happened before t0: count only what came after
    const lines = n - first;
    return {
      rate: (lines * 1000) / (performance.now() - t0),
      keeperCpuUsPerLine: ((cpuMs(k.pid) - cpu0) * 1000) / lines,
      redisCpuUsPerLine: ((cpuMs(redisPid()) - rcpu0) * 1000) / lines,
    };
  } finally {
    await stopKeeper(k);
    await client.del(keys.logStream);
  }
}

let redisPid: () => number | undefined = () => undefined;

async function main() {
  const redis = await startRedis();
  redisPid = () => redis.pid();
  const client = new Redis(redis.url);
  const rows: Array<[string, string, string]> = [];
  try {
    console.log(`keeper bench: ${LINES} lines per run, ${RUNS} runs, batch ${BATCH}, flush 1s`);

    const ceil: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      const stream = redisContract(`ceil${r}:`).logStream;
      ceil.push((LINES * 1000) / (await produce(client, stream, LINES)));
      await client.del(stream);
    }
    console.log(`  XADD ceiling: ${ceil.map(fmt).join(', ')} lines/s`);

    const ours: number[] = [];
    const live: number[] = [];
    const kcpu: number[] = [];
    const rcpu: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      const dir = makeTempDir('bench-archive');
      const d = await drainRun(redis.url, client, `d${r}:`, `file://${dir}`, LINES);
      const l = await liveRun(redis.url, client, `l${r}:`, `file://${dir}`, LINES);
      const stored = await countArchivedLines(dir);
      if (stored < 2 * LINES)
        throw new Error(`run ${r}: only ${stored} of ${2 * LINES} lines in the archive`);
      ours.push(d.rate);
      kcpu.push(d.keeperCpuUsPerLine);
      rcpu.push(d.redisCpuUsPerLine);
      live.push(l.rate);
      console.log(
        `  run ${r + 1}: keeper drain ${fmt(d.rate)} lines/s (keeper CPU ${d.keeperCpuUsPerLine.toFixed(1)} µs/line, redis-server CPU ${d.redisCpuUsPerLine.toFixed(1)} µs/line); live with producer ${fmt(l.rate)} lines/s (producer alone took ${Math.round(l.produceMs)} ms); ${stored} lines stored`,
      );
      fs.rmSync(dir, { recursive: true, force: true });
    }

    // the keeper on the other runtimes, rotated with the current one run by run (issue 15)
    const others = RUNTIMES.filter((rt) => rt.node !== process.execPath);
    if (others.length) {
      const drains = new Map<string, Array<{ rate: number; keeperCpuUsPerLine: number }>>(
        RUNTIMES.map((rt) => [rt.name, []]),
      );
      for (let r = 0; r < RUNS; r++) {
        for (const rt of RUNTIMES) {
          const dir = makeTempDir('bench-archive');
          const d = await drainRun(
            redis.url,
            client,
            `rt${rt.name}${r}:`,
            `file://${dir}`,
            LINES,
            {},
            rt.node,
          );
          drains.get(rt.name)!.push(d);
          fs.rmSync(dir, { recursive: true, force: true });
        }
      }
      const ref = median(drains.get(RUNTIMES[0]!.name)!.map((d) => d.keeperCpuUsPerLine));
      console.log('  backlog drain per runtime (rotated run by run, medians):');
      for (const rt of RUNTIMES) {
        const ds = drains.get(rt.name)!;
        const cpu = median(ds.map((d) => d.keeperCpuUsPerLine));
        console.log(
          `    ${rt.name} ${rt.version}: ${fmt(median(ds.map((d) => d.rate)))} lines/s wall, ${fmt(1e6 / cpu)} lines per keeper CPU-s (${(ref / cpu).toFixed(2)}× ${RUNTIMES[0]!.name}); runs ${ds.map((d) => fmt(d.rate)).join(', ')}`,
        );
      }
    }

    const naiveStream = redisContract('naive:').logStream;
    await produce(client, naiveStream, NAIVE_LINES);
    const ndir = makeTempDir('bench-naive');
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const got = await naiveArchive(client, naiveStream, ndir, NAIVE_LINES);
    const naive = (got * 1000) / (performance.now() - t0);
    const c1 = process.cpuUsage(c0);
    const naiveCpuUs = (c1.user + c1.system) / got;
    console.log(
      `  naive (1 object per line): ${fmt(naive)} lines/s over ${got} lines (its CPU ${naiveCpuUs.toFixed(1)} µs/line)`,
    );
    await client.del(naiveStream);
    fs.rmSync(ndir, { recursive: true, force: true });

    let s3: number | undefined;
    if (S3_LINES > 0 && motoAvailable()) {
      const moto = await startMoto();
      await createBucket(moto, 'bench');
      const { rate } = await drainRun(redis.url, client, 's3:', 's3://bench/logs', S3_LINES, moto.env);
      const stored = new Set((await readS3Archive(moto, 'bench', 'logs')).map((a) => a.entryId)).size;
      if (stored < S3_LINES) throw new Error(`S3 run: only ${stored} of ${S3_LINES} lines in the bucket`);
      s3 = rate;
      console.log(`  keeper → S3 (moto): ${fmt(s3)} lines/s over ${S3_LINES} lines`);
      await moto.stop();
    }

    const m = median(ours);
    rows.push(['keeper → folder, backlog drain (median)', fmt(m), 'read → gzip → stored → XACK']);
    const kc = median(kcpu);
    rows.push([
      'same, per CPU-second of the keeper process (median)',
      fmt(1e6 / kc),
      `${kc.toFixed(1)} µs keeper CPU + ${median(rcpu).toFixed(1)} µs redis-server CPU per line`,
    ]);
    rows.push([
      'keeper → folder, live with one producer (median)',
      fmt(median(live)),
      'bounded by the producer',
    ]);
    rows.push([
      'XADD ceiling (one producer alone, median)',
      fmt(median(ceil)),
      `drain/ceiling ${(m / median(ceil)).toFixed(2)}`,
    ]);
    rows.push([
      'naive archiver (1 object/line, ack each)',
      fmt(naive),
      `keeper/naive ${(m / naive).toFixed(1)}×`,
    ]);
    rows.push([
      'naive, per CPU-second of its process',
      fmt(1e6 / naiveCpuUs),
      `${naiveCpuUs.toFixed(1)} µs/line; keeper/naive per CPU-second ${(naiveCpuUs / kc).toFixed(1)}×`,
    ]);
    if (s3 !== undefined)
      rows.push(['keeper → S3 on moto_server, drain', fmt(s3), `${S3_LINES} lines, 1 run`]);
    console.log('\n| | lines/s | |\n|---|---:|---|');
    for (const r of rows) console.log(`| ${r.join(' | ')} |`);
    console.log(
      `\ngoal ≥ 50,000 lines/s: wall clock ${m >= 50_000 ? 'met' : 'NOT met'}; per keeper CPU-second ${1e6 / kc >= 50_000 ? 'met' : 'NOT met'}`,
    );
  } finally {
    client.disconnect();
    await redis.stop();
    await cleanupAll();
  }
}

await main();
