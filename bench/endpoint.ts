// Endpoint benchmark: C concurrent clients following 100 movies, tweets published at a fixed rate, against
// (1) one Filmgrain endpoint process and (2) one Socket.IO + @socket.io/redis-adapter process, with the same
// load generator processes. Prints RSS per connection, delivered messages/s, publish→deliver latency p50/p99
// and the server's CPU, then the ratios.
//
//   npm run bench:endpoint                                   # full run
//   BENCH_CLIENTS=1000 BENCH_DURATION=3 BENCH_WINDOWS=1 npm run bench:endpoint   # quick look
//
// Flags (each also an env var): --clients 1000,10000,19000 (BENCH_CLIENTS), --duration 10 seconds per window
// (BENCH_DURATION), --windows 3 (BENCH_WINDOWS, figures are medians over windows), --rate 300,3000 tweets/s
// (BENCH_RATE, a moderate rate for latency and a high one for throughput), --targets ours,sio (BENCH_TARGETS), --per-gen 5000 clients per generator process (BENCH_PER_GEN).
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command, Option } from 'commander';
import { Redis } from 'ioredis';
import { redisContract } from '../protocol/redis-contract.ts';
import { queueCatalog } from '../protocol/redis-writes.ts';
import { cleanupAll, startRedis } from '../test/harness/index.ts';
import { Histogram } from './endpoint/histogram.ts';
import type { FromChild, ToChild } from './endpoint/ipc.ts';

const opts = new Command('bench:endpoint')
  .addOption(new Option('--clients <list>', 'client counts').env('BENCH_CLIENTS').default('1000,10000,19000'))
  .addOption(new Option('--duration <s>', 'seconds per measuring window').env('BENCH_DURATION').default('10'))
  .addOption(new Option('--windows <n>', 'measuring windows (medians)').env('BENCH_WINDOWS').default('3'))
  .addOption(
    new Option('--rate <list>', 'tweets published per second (each rate measured)')
      .env('BENCH_RATE')
      .default('300,3000'),
  )
  .addOption(new Option('--targets <list>', 'ours,sio').env('BENCH_TARGETS').default('ours,sio'))
  .addOption(
    new Option('--per-gen <n>', 'clients per generator process').env('BENCH_PER_GEN').default('5000'),
  )
  .parse()
  .opts();

const CLIENTS = String(opts.clients).split(',').map(Number);
const DURATION_S = Number(opts.duration);
const WINDOWS = Number(opts.windows);
const RATES = String(opts.rate).split(',').map(Number);
const TARGETS = String(opts.targets).split(',') as Array<'ours' | 'sio'>;
const PER_GEN = Number(opts.perGen);
const MOVIES = 100;
const ROOT = path.resolve(import.meta.dirname, '..');
const NAMES = { ours: 'Filmgrain endpoint', sio: 'Socket.IO + redis-adapter' };

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

function tsChild(file: string, env: Record<string, string>, ipc: boolean): ChildProcess {
  const c = spawn(process.execPath, ['--import', 'tsx', file], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ipc ? ['ignore', 'inherit', 'inherit', 'ipc'] : ['ignore', 'pipe', 'inherit'],
  });
  children.add(c);
  c.on('exit', () => children.delete(c));
  return c;
}

function waitMsg<T extends FromChild['t']>(
  c: ChildProcess,
  t: T,
  ms: number,
): Promise<Extract<FromChild, { t: T }>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "${t}" from child within ${ms} ms`)), ms);
    const on = (m: FromChild) => {
      if (m.t !== t) return;
      clearTimeout(timer);
      c.off('message', on);
      resolve(m as Extract<FromChild, { t: T }>);
    };
    c.on('message', on);
    c.once('exit', () => reject(new Error(`child exited before "${t}"`)));
  });
}

const tell = (c: ChildProcess, m: ToChild) => c.connected && c.send(m);

function waitListening(c: ChildProcess, ms = 30_000): Promise<number> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error('server did not log "listening"')), ms);
    c.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = /"msg":"listening"[^\n]*/.exec(buf) ?? null;
      const line = m ? buf.slice(buf.lastIndexOf('\n', m.index) + 1).split('\n')[0]! : '';
      if (line) {
        clearTimeout(timer);
        resolve(JSON.parse(line).port);
        buf = '';
      }
      if (buf.length > 1e6) buf = buf.slice(-1e5);
    });
    c.once('exit', () => reject(new Error('server exited before listening')));
  });
}

function procStat(pid: number): { cpuS: number; rssB: number } {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(f[11]) + Number(f[12]); // utime + stime
  const rss = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return { cpuS: ticks / 100, rssB: Number(rss?.[1] ?? 0) * 1024 };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)]! : Number.NaN;
};

interface Row {
  target: 'ours' | 'sio';
  clients: number;
  rate: number;
  connected: number;
  connectS: number;
  rssMB: number;
  kbPerConn: number;
  delivered: number;
  offered: number;
  p50: number;
  p99: number;
  cpu: number;
  disconnects: number;
}

async function scenario(redisUrl: string, target: 'ours' | 'sio', clients: number): Promise<Row[]> {
  const prefix = `bench${Date.now()}:`;
  const r = new Redis(redisUrl);
  if (target === 'ours') {
    const p = r.multi();
    queueCatalog(
      p,
      redisContract(prefix),
      Array.from({ length: MOVIES }, (_, i) => ({ id: i + 1, title: `Movie ${i + 1}` })),
    );
    await p.exec();
  }
  r.disconnect();

  const server =
    target === 'ours'
      ? (() => {
          const c = spawn(
            process.execPath,
            [
              'bin/endpoint.mjs',
              ...['--redis', redisUrl, '--prefix', prefix, '--host', '127.0.0.1', '--port', '0'],
              ...['--max-clients', '100000', '--soft-limit', '100000', '--idle-timeout', '1h'],
            ],
            { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
          );
          children.add(c);
          return c;
        })()
      : tsChild('bench/endpoint/sio-server.ts', { SIO_REDIS: redisUrl }, false);
  const port = await waitListening(server);
  await sleep(1000);
  const base = procStat(server.pid!);

  const gens: ChildProcess[] = [];
  const nGen = Math.ceil(clients / PER_GEN);
  for (let g = 0; g < nGen; g++) {
    const n = Math.floor(clients / nGen) + (g < clients % nGen ? 1 : 0);
    gens.push(
      tsChild(
        'bench/endpoint/loadgen.ts',
        {
          LG_KIND: target,
          LG_PORT: String(port),
          LG_CLIENTS: String(n),
          LG_OFFSET: String(g * 7),
          // one source address per generator: one address pair has only ~28k ephemeral ports
          LG_LOCAL: `127.0.0.${10 + g}`,
          LG_MOVIES: String(MOVIES),
        },
        true,
      ),
    );
  }
  const t0 = Date.now();
  const readies = await Promise.all(gens.map((g) => waitMsg(g, 'ready', 600_000)));
  const connectS = (Date.now() - t0) / 1000;
  const connected = readies.reduce((a, m) => a + m.connected, 0);
  await sleep(1500);
  const loaded = procStat(server.pid!);

  const pub = tsChild(
    'bench/endpoint/publisher.ts',
    { PUB_KIND: target, PUB_REDIS: redisUrl, PUB_PREFIX: prefix, PUB_MOVIES: String(MOVIES) },
    true,
  );
  await sleep(1500); // publisher up (tsx start) before it is told to go

  const rows: Row[] = [];
  for (const rate of RATES) {
    tell(pub, { t: 'start', rate });
    await sleep(2000); // warm-up
    const delivered: number[] = [];
    const offered: number[] = [];
    const p50: number[] = [];
    const p99: number[] = [];
    const cpu: number[] = [];
    let disconnects = 0;
    for (let w = 0; w < WINDOWS; w++) {
      for (const g of [...gens, pub]) tell(g, { t: 'window-start' });
      const a = procStat(server.pid!);
      const ta = Date.now();
      await sleep(DURATION_S * 1000);
      const windows = gens.map((g) => waitMsg(g, 'window', 180_000));
      const pubWindow = waitMsg(pub, 'window', 180_000);
      for (const g of [...gens, pub]) tell(g, { t: 'window-end' });
      const b = procStat(server.pid!);
      const dt = (Date.now() - ta) / 1000;
      const res = await Promise.all(windows);
      const h = new Histogram();
      let count = 0;
      for (const m of res) {
        h.addSparse(m.hist);
        count += m.count;
        disconnects += m.disconnects;
      }
      delivered.push(count / dt);
      // each tweet goes to the clients of its movie: connected / MOVIES of them
      offered.push((((await pubWindow).count / dt) * connected) / MOVIES);
      p50.push(h.quantile(0.5));
      p99.push(h.quantile(0.99));
      cpu.push(((b.cpuS - a.cpuS) / dt) * 100);
    }
    const stopped = waitMsg(pub, 'published', 10_000);
    tell(pub, { t: 'stop' });
    await stopped.catch(() => undefined);
    await sleep(1500); // let the backlog drain before the next rate
    rows.push({
      target,
      clients,
      rate,
      connected,
      connectS,
      rssMB: loaded.rssB / 2 ** 20,
      kbPerConn: connected ? (loaded.rssB - base.rssB) / 1024 / connected : Number.NaN,
      delivered: median(delivered),
      offered: median(offered),
      p50: median(p50),
      p99: median(p99),
      cpu: median(cpu),
      disconnects,
    });
  }
  tell(pub, { t: 'exit' });
  for (const g of gens) tell(g, { t: 'exit' });
  await sleep(500);
  server.kill('SIGKILL');
  for (const c of [...gens, pub]) c.kill('SIGKILL');
  await sleep(500);
  return rows;
}

const fmt = (x: number, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : '—');
const k = (x: number) => (Number.isFinite(x) ? `${Math.round(x / 1000)}k` : '—');

function table(rows: Row[]): string {
  const head =
    '| server | C | tweets/s | connected | connect s | RSS MiB | KiB/conn | offered msg/s | delivered msg/s | p50 ms | p99 ms | server CPU % | dropped conns |';
  const sep = '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|';
  const lines = rows.map(
    (r) =>
      `| ${NAMES[r.target]} | ${r.clients} | ${r.rate} | ${r.connected} | ${fmt(r.connectS, 1)} | ${fmt(r.rssMB)} | ${fmt(r.kbPerConn, 1)} | ${k(r.offered)} | ${k(r.delivered)} | ${fmt(r.p50, 1)} | ${fmt(r.p99, 1)} | ${fmt(r.cpu)} | ${r.disconnects} |`,
  );
  return [head, sep, ...lines].join('\n');
}

function ratios(rows: Row[]): string {
  const out = [
    '| C | tweets/s | memory per conn (sio ÷ ours) | delivered/s (ours ÷ sio) | p50 (sio ÷ ours) | p99 (sio ÷ ours) | CPU per delivered msg (sio ÷ ours) |',
    '|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const o of rows.filter((r) => r.target === 'ours')) {
    const s = rows.find((r) => r.target === 'sio' && r.clients === o.clients && r.rate === o.rate);
    if (!s) continue;
    const cpm = (r: Row) => r.cpu / Math.max(1, r.delivered);
    out.push(
      `| ${o.clients} | ${o.rate} | ${fmt(s.kbPerConn / o.kbPerConn, 1)}× | ${fmt(o.delivered / s.delivered, 2)}× | ${fmt(s.p50 / o.p50, 1)}× | ${fmt(s.p99 / o.p99, 1)}× | ${fmt(cpm(s) / cpm(o), 1)}× |`,
    );
  }
  return out.join('\n');
}

async function main(): Promise<void> {
  const redis = await startRedis({ args: ['--maxclients', '10000'] });
  console.log(
    `load average at start: ${os
      .loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')} (other processes share these cores)`,
  );
  console.log(
    `bench:endpoint — ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.versions.node}; ` +
      `C=${CLIENTS.join(',')}, ${RATES.join(' and ')} tweets/s over ${MOVIES} movies, ${WINDOWS}×${DURATION_S}s windows (medians)`,
  );
  const rows: Row[] = [];
  try {
    for (const c of CLIENTS) {
      for (const t of TARGETS) {
        process.stdout.write(`  ${NAMES[t]}, C=${c} … `);
        try {
          const got = await scenario(redis.url, t, c);
          rows.push(...got);
          console.log(
            got
              .map(
                (row) =>
                  `[${row.rate}/s] ${row.connected} connected, ${k(row.delivered)} msg/s, p50 ${fmt(row.p50, 1)} ms, p99 ${fmt(row.p99, 1)} ms, ${fmt(row.kbPerConn, 1)} KiB/conn, CPU ${fmt(row.cpu)}%`,
              )
              .join('; '),
          );
        } catch (err) {
          console.log(`failed: ${(err as Error).message}`);
          for (const ch of children) ch.kill('SIGKILL');
        }
      }
    }
  } finally {
    await cleanupAll().catch(() => {});
  }
  console.log(
    `load average at end: ${os
      .loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')}`,
  );
  console.log(`\n${table(rows)}\n`);
  if (TARGETS.length > 1) console.log(`${ratios(rows)}\n`);
  process.exit(0);
}

void main();
