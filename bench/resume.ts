// Mass resume: N SDK clients (protocol 1.1) on one endpoint process, tweets published all along; the endpoint is
// told to drain (control message) and its clients move to two other endpoint processes at once and resume
// with `since`. Prints the time until every client receives again, Redis commands per resume (INFO
// commandstats before/after, publishing's own commands subtracted), the peak RSS of the two receiving
// endpoints, and whether every client's offsets equal the stream's (no gap, no duplicate).
//
//   npx tsx bench/resume.ts                 # BENCH_CLIENTS=10000 BENCH_RATE=20 BENCH_RUNS=3
import fs from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { FilmgrainClient } from '../protocol/client/client.ts';
import { redisContract } from '../protocol/redis-contract.ts';
import { queueCatalog, queueTweet } from '../protocol/redis-writes.ts';
import { cleanupAll, spawnRole, startRedis, waitFor, waitForLine } from '../test/harness/index.ts';

const N = Number(process.env.BENCH_CLIENTS ?? 10_000);
const RATE = Number(process.env.BENCH_RATE ?? 20);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const MOVIE = 1;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function commandCalls(info: string): number {
  let n = 0;
  for (const m of info.matchAll(/^cmdstat_([a-z|]+):calls=(\d+)/gm)) {
    if (!['info', 'publish', 'evalsha', 'eval', 'xadd', 'hincrby', 'expire'].includes(m[1]!))
      n += Number(m[2]);
  }
  return n;
}
const hwmKb = (pid: number) =>
  Number(/VmHWM:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);

async function run(i: number): Promise<Record<string, number>> {
  const redis = await startRedis();
  const prefix = `bench-resume-${i}:`;
  const keys = redisContract(prefix);
  const r = new Redis(redis.url);
  const p = r.multi();
  queueCatalog(p, keys, [{ id: MOVIE, title: 'Arrival', year: 2016 }]);
  await p.exec();
  const eps: ChildProcess[] = [];
  const ports: number[] = [];
  for (const id of ['a', 'b', 'c']) {
    const c = spawnRole('endpoint', {
      redisUrl: redis.url,
      prefix,
      id,
      args: ['--host', '127.0.0.1', '--port', '0', '--max-per-ip', '1000000', '--drain-grace', '20s'],
    });
    eps.push(c);
    ports.push(Number(/"port":(\d+)/.exec(await waitForLine(c, /"listening"/, 30_000))![1]));
  }
  const clients: FilmgrainClient[] = [];
  const got: string[][] = [];
  const backAt = new Float64Array(N);
  let drainAt = 0;
  for (let k = 0; k < N; k++) {
    const c = new FilmgrainClient({
      endpoints: [{ host: '127.0.0.1', port: ports[0]!, tls: false }],
      app: 'bench',
      version: '1',
      keepaliveMs: 0,
      localAddress: `127.0.${1 + (k % 200)}.${1 + Math.floor(k / 200)}`,
    });
    got.push([]);
    c.on('post_tweet', (t) => {
      got[k]!.push(t.offset!);
      if (drainAt && !backAt[k] && c.endpoint?.port !== ports[0]) backAt[k] = performance.now();
    });
    c.startFeed(MOVIE);
    clients.push(c);
    void c.start();
    if (k % 500 === 499) await sleep(50);
  }
  let stop = false;
  let seq = 0;
  const publisher = (async () => {
    while (!stop) {
      const q = r.pipeline();
      queueTweet(q, keys, MOVIE, {
        id: String(++seq),
        text: `tweet ${seq}`,
        created_at: new Date().toISOString(),
        user: { name: 'B', screen_name: 'b' },
      });
      await q.exec();
      await sleep(1000 / RATE);
    }
  })();
  await waitFor(() => got.every((g) => g.length > 0), 120_000, 'every client receiving');
  await sleep(1000);
  const before = commandCalls(await r.info('commandstats'));
  drainAt = performance.now();
  await r.publish(keys.control('endpoint', 'a'), JSON.stringify({ cmd: 'drain' }));
  await waitFor(() => backAt.every((t) => t > 0), 120_000, 'every client receiving again');
  const allBack = Math.max(...backAt) - drainAt;
  const p50 = median([...backAt].map((t) => t - drainAt));
  const after = commandCalls(await r.info('commandstats'));
  stop = true;
  await publisher;
  await sleep(1000);
  const stream = (await r.xrange(keys.movieHistory(MOVIE), '-', '+')).map(([id]) => id);
  let exact = 0;
  for (const g of got) {
    const from = stream.indexOf(g[0]!);
    if (from >= 0 && JSON.stringify(stream.slice(from, from + g.length)) === JSON.stringify(g)) exact++;
  }
  const peak = Math.max(hwmKb(eps[1]!.pid!), hwmKb(eps[2]!.pid!));
  for (const c of clients) c.close();
  r.disconnect();
  await cleanupAll();
  return {
    all_back_ms: Math.round(allBack),
    p50_back_ms: Math.round(p50),
    redis_cmds_per_resume: Math.round(((after - before) / N) * 100) / 100,
    peak_rss_mb: Math.round(peak / 1024),
    exact_clients: exact,
  };
}

const results: Array<Record<string, number>> = [];
for (let i = 0; i < RUNS; i++) {
  const res = await run(i);
  console.log(JSON.stringify({ run: i + 1, clients: N, rate: RATE, ...res }));
  results.push(res);
}
const keysOf = Object.keys(results[0]!);
console.log(
  JSON.stringify({
    median: Object.fromEntries(keysOf.map((k) => [k, median(results.map((x) => x[k]!))])),
    load: (await import('node:os')).loadavg().map((x) => Math.round(x * 100) / 100),
  }),
);
process.exit(0);
