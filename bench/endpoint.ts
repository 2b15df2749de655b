// Endpoint benchmark: C concurrent clients following 100 movies, tweets published at a fixed rate, against
// (1) one Filmgrain endpoint process and (2) one Socket.IO + @socket.io/redis-adapter process, with the same
// load generator processes. Prints RSS per connection, delivered messages/s, publish→deliver latency p50/p99,
// the server's CPU and event-loop delay, what the generators, redis and the rest of the machine used, then the
// ratios.
//
//   npm run bench:endpoint                                   # full run (3 runs, about 1 h)
//   BENCH_CLIENTS=1000 BENCH_DURATION=3 BENCH_WINDOWS=1 BENCH_RUNS=1 npm run bench:endpoint   # quick look
//
// Flags (each also an env var): --clients 1000,10000,19000 (BENCH_CLIENTS; C beyond the open-files limit is
// skipped), --duration 10 seconds per window (BENCH_DURATION), --windows 3 (BENCH_WINDOWS, figures are medians
// over windows), --rate 300,1000,3000 tweets/s (BENCH_RATE), --targets ours,sio (BENCH_TARGETS: ours = clients on
// protocol 1.1, ours10 = on 1.0, ours+metrics = the endpoint with its admin listener on and /metrics scraped every
// second, ours@pinned = ours on the release's pinned Node, sio), --per-gen 10000 clients per generator process
// (BENCH_PER_GEN), --runs 3 whole runs, targets alternating, medians over runs (BENCH_RUNS), --pin split|off: server alone on the last core (BENCH_PIN), --prof DIR: CPU profile of the
// server (BENCH_PROF). No ulimit is needed: Node raises its soft open-files limit to the hard one at start,
// and C above the hard limit is skipped with a message.
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command, Option } from 'commander';
import { Redis } from 'ioredis';
import { redisContract } from '../protocol/redis-contract.ts';
import { queueCatalog } from '../protocol/redis-writes.ts';
import { readHeartbeats } from '../roles/runtime/heartbeat.ts';
import { cleanupAll, freePort, type RedisServer, startRedis } from '../test/harness/index.ts';
import { Histogram } from './endpoint/histogram.ts';
import type { FromChild, ToChild } from './endpoint/ipc.ts';
import { benchRuntimes } from './runtimes.ts';

const opts = new Command('bench:endpoint')
  .addOption(new Option('--clients <list>', 'client counts').env('BENCH_CLIENTS').default('1000,10000,19000'))
  .addOption(new Option('--duration <s>', 'seconds per measuring window').env('BENCH_DURATION').default('10'))
  .addOption(new Option('--windows <n>', 'measuring windows (medians)').env('BENCH_WINDOWS').default('3'))
  .addOption(
    new Option('--rate <list>', 'tweets published per second (each rate measured)')
      .env('BENCH_RATE')
      .default('300,1000,3000'),
  )
  .addOption(
    new Option('--runs <n>', 'whole runs per C, targets alternating; figures are medians over runs')
      .env('BENCH_RUNS')
      .default('3'),
  )
  .addOption(new Option('--targets <list>', 'ours,sio').env('BENCH_TARGETS').default('ours,sio'))
  .addOption(
    new Option('--per-gen <n>', 'clients per generator process').env('BENCH_PER_GEN').default('10000'),
  )
  .addOption(
    new Option(
      '--pin <mode>',
      'split: server on the last core, generators on the others (clients are on other machines in production); off: the scheduler places them',
    )
      .env('BENCH_PIN')
      .choices(['split', 'off'])
      .default('split'),
  )
  .addOption(
    new Option('--prof <dir>', 'write a CPU profile of the server (node --cpu-prof) into this directory').env(
      'BENCH_PROF',
    ),
  )
  .parse()
  .opts();

const CLIENTS = String(opts.clients).split(',').map(Number);
const DURATION_S = Number(opts.duration);
const WINDOWS = Number(opts.windows);
const RATES = String(opts.rate).split(',').map(Number);
const TARGETS = String(opts.targets).split(',') as Target[];
/** the release's Node, verified from God's cache, when a target runs on it */
const PINNED_NODE = TARGETS.includes('ours@pinned')
  ? (await benchRuntimes('pinned'))[0]!.node
  : process.execPath;
const RUNS = Math.max(1, Number(opts.runs));
const PER_GEN = Number(opts.perGen);
const PROF_DIR = opts.prof as string | undefined;
const NCPU = os.cpus().length;
/** CPU lists for `taskset -c`: the server alone on the last core, its clients on the others. On loopback a
 * socket write wakes the reader with a "sync" wake-up, which invites the scheduler to run the generator on the
 * server's core, where it waits for the rest of the fan-out; real clients are on other machines. */
const PIN =
  opts.pin === 'split' && NCPU >= 2 ? { server: String(NCPU - 1), gens: `0-${NCPU - 2}` } : undefined;
const MOVIES = 100;
const ROOT = path.resolve(import.meta.dirname, '..');
/** ours: every client on protocol 1.1 (the SDK's default); ours10: every client on 1.0; ours+metrics: ours with
 * its admin listener on (--admin-listen) and /metrics scraped every second (Prometheus's default is 15 s), for
 * the cost of instrumentation (issue 17) */
type Target = 'ours' | 'ours10' | 'sio' | 'ours+metrics' | 'ours@pinned';
const NAMES: Record<Target, string> = {
  'ours@pinned': 'Filmgrain endpoint on the pinned Node (clients on 1.1)',
  ours: 'Filmgrain endpoint (clients on 1.1)',
  ours10: 'Filmgrain endpoint (clients on 1.0)',
  sio: 'Socket.IO + redis-adapter',
  'ours+metrics': 'Filmgrain endpoint + /metrics',
};
/** the Filmgrain endpoint, whatever its clients' protocol or metrics: same clients, publisher and figures */
const isOurs = (t: Target) => t !== 'sio';
const kindOf = (t: Target): 'ours' | 'sio' => (isOurs(t) ? 'ours' : 'sio');

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

/** spawn, on the given cores when pinning (taskset execs the command: the pid stays the same). */
function spawnOn(
  cpus: string | undefined,
  args: string[],
  options: Parameters<typeof spawn>[2],
  node = process.execPath,
): ChildProcess {
  return cpus ? spawn('taskset', ['-c', cpus, node, ...args], options) : spawn(node, args, options);
}

function tsChild(
  file: string,
  env: Record<string, string>,
  ipc: boolean,
  nodeArgs: string[] = [],
  cpus?: string,
): ChildProcess {
  const c = spawnOn(cpus, [...nodeArgs, '--import', 'tsx', file], {
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
    const done = () => {
      clearTimeout(timer);
      c.off('message', on);
      c.off('exit', onExit);
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`no "${t}" from child within ${ms} ms`));
    }, ms);
    const on = (m: FromChild) => {
      if (m.t !== t) return;
      done();
      resolve(m as Extract<FromChild, { t: T }>);
    };
    const onExit = () => {
      done();
      reject(new Error(`child exited before "${t}"`));
    };
    c.on('message', on);
    c.on('exit', onExit);
  });
}

const tell = (c: ChildProcess, m: ToChild) => c.connected && c.send(m);

function procStat(pid: number | undefined): { cpuS: number; rssB: number } {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(f[11]) + Number(f[12]); // utime + stime
    const rss = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return { cpuS: ticks / 100, rssB: Number(rss?.[1] ?? 0) * 1024 };
  } catch {
    return { cpuS: 0, rssB: 0 }; // gone
  }
}

/** CPU seconds used by the whole machine (all processes, ours and other engineers'), and the part of it spent
 * in interrupts (loopback TCP is processed there: it belongs to no process). */
function machineCpuS(): { busy: number; irq: number } {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal
  return { busy: (f[0]! + f[1]! + f[2]! + f[5]! + f[6]! + f[7]!) / 100, irq: (f[5]! + f[6]!) / 100 };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => {
  const s = [...xs].filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)]! : Number.NaN;
};

interface Row {
  target: Target;
  /** runs merged into this row, and their p50s and p99s (mergeRuns) */
  runs?: number;
  p50s?: number[];
  p99s?: number[];
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
  /** server event-loop delay p99 (median of its 2 s readings) and max, ms */
  loopP99: number;
  loopMax: number;
  /** the generators' own event-loop delay p99 (worst generator), ms */
  genLoopP99: number;
  /** CPU of the generators, the publisher and redis-server, % of one core */
  genCpu: number;
  pubCpu: number;
  redisCpu: number;
  /** CPU used by processes outside this bench (other engineers), % of one core */
  otherCpu: number;
  /** interrupts (softirq: loopback TCP processing), % of one core */
  irqCpu: number;
  /** CPU used by the whole machine, % of one core (200 = both cores busy) */
  machineCpu: number;
  load: number;
  disconnects: number;
  note?: string;
}

/** Lines of a server's stdout: resolves its `listening` port; keeps its `loop` readings (Socket.IO server). */
function watchServer(c: ChildProcess): { port: Promise<number>; loops: Array<{ p99: number; max: number }> } {
  const loops: Array<{ p99: number; max: number }> = [];
  let buf = '';
  const port = new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('server did not log "listening" within 30 s')), 30_000);
    c.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl = buf.indexOf('\n');
      while (nl !== -1) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        nl = buf.indexOf('\n');
        if (!line.includes('"msg":"listening"') && !line.includes('"msg":"loop"')) continue;
        try {
          const m = JSON.parse(line);
          if (m.msg === 'listening') {
            clearTimeout(timer);
            resolve(m.port);
          } else loops.push({ p99: m.loop_delay_p99_ms, max: m.loop_delay_max_ms });
        } catch {}
      }
      if (buf.length > 1e6) buf = '';
    });
    c.once('exit', () => reject(new Error('server exited before listening')));
  });
  return { port, loops };
}

/** The endpoint's event-loop delay from its heartbeat gauges (a fresh reading every 2 s). */
function watchHeartbeats(
  redisUrl: string,
  prefix: string,
): {
  loops: Array<{ p99: number; max: number }>;
  stop(): void;
} {
  const r = new Redis(redisUrl);
  const keys = redisContract(prefix);
  const loops: Array<{ p99: number; max: number }> = [];
  let last = '';
  const t = setInterval(async () => {
    const hbs = await readHeartbeats(r, keys).catch(() => []);
    const hb = hbs.find((h) => h.role === 'endpoint');
    if (!hb || hb.at === last) return;
    last = hb.at;
    loops.push({
      p99: hb.gauges.loop_delay_p99_ms ?? Number.NaN,
      max: hb.gauges.loop_delay_max_ms ?? Number.NaN,
    });
  }, 500);
  return {
    loops,
    stop: () => {
      clearInterval(t);
      r.disconnect();
    },
  };
}

/** How long the orchestrator waits for the generators' report after a window. A generator that cannot answer
 * in this time has an event loop blocked by its backlog: that is reported as the result, not waited out. */
const REPORT_TIMEOUT_MS = 30_000;

/** Source addresses of the generators, fresh for every scenario (and every bench process). The clients close
 * first, so each finished scenario leaves its C sockets in TIME_WAIT on their source address for 60 s; a run
 * that binds the same address within that minute finds most of its ~28k ephemeral ports taken and spends its
 * set-up searching for free ones (measured: 7 s with 10k sockets waiting there, 43-47 s with 20k, old or new
 * endpoint alike), so "connect s" would measure the previous runs rather than the server. */
let scenarioSeq = 0;
const sourceBase = 1 + (process.pid % 200);
function sourceAddress(g: number): string {
  return `127.${sourceBase}.${scenarioSeq % 250}.${10 + g}`;
}

async function scenario(redis: RedisServer, target: Target, clients: number): Promise<Row[]> {
  scenarioSeq++;
  const redisUrl = redis.url;
  const prefix = `bench${Date.now()}:`;
  const r = new Redis(redisUrl);
  if (isOurs(target)) {
    const p = r.multi();
    queueCatalog(
      p,
      redisContract(prefix),
      Array.from({ length: MOVIES }, (_, i) => ({ id: i + 1, title: `Movie ${i + 1}` })),
    );
    await p.exec();
  }
  r.disconnect();

  const prof = PROF_DIR ? ['--cpu-prof', '--cpu-prof-dir', path.resolve(PROF_DIR)] : [];
  const adminPort = target === 'ours+metrics' ? await freePort() : 0;
  const server = isOurs(target)
    ? (() => {
        const c = spawnOn(
          PIN?.server,
          [
            ...prof,
            'bin/endpoint.mjs',
            ...['--redis', redisUrl, '--prefix', prefix, '--host', '127.0.0.1', '--port', '0'],
            ...['--max-clients', '100000', '--soft-limit', '100000', '--idle-timeout', '1h'],
            // every generated client comes from 127.0.0.1
            ...['--max-per-ip', '1000000'],
            ...(adminPort ? ['--admin-listen', `127.0.0.1:${adminPort}`] : []),
          ],
          { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
          target === 'ours@pinned' ? PINNED_NODE : process.execPath,
        );
        children.add(c);
        c.on('exit', () => children.delete(c));
        return c;
      })()
    : tsChild('bench/endpoint/sio-server.ts', { SIO_REDIS: redisUrl }, false, prof, PIN?.server);
  const watched = watchServer(server);
  const port = await watched.port;
  const hb = isOurs(target) ? watchHeartbeats(redisUrl, prefix) : null;
  // a scraper like Prometheus's, every second, for as long as the server runs
  const scrape = adminPort
    ? setInterval(() => {
        fetch(`http://127.0.0.1:${adminPort}/metrics`)
          .then((res) => res.text())
          .catch(() => {});
      }, 1000)
    : undefined;
  const loops = hb ? hb.loops : watched.loops;
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
          LG_KIND: kindOf(target),
          LG_PROTOCOL: target === 'ours10' ? '1.0' : '1.1',
          LG_PORT: String(port),
          LG_CLIENTS: String(n),
          LG_OFFSET: String(g * 7),
          // one source address per generator: one address pair has only ~28k ephemeral ports
          LG_LOCAL: sourceAddress(g),
          LG_MOVIES: String(MOVIES),
        },
        true,
        [],
        PIN?.gens,
      ),
    );
  }
  const rows: Row[] = [];
  const t0 = Date.now();
  const readies = await Promise.all(gens.map((g) => waitMsg(g, 'ready', 300_000)));
  const connectS = (Date.now() - t0) / 1000;
  const connected = readies.reduce((a, m) => a + m.connected, 0);
  await sleep(1500);
  const loaded = procStat(server.pid!);

  const pub = tsChild(
    'bench/endpoint/publisher.ts',
    { PUB_KIND: kindOf(target), PUB_REDIS: redisUrl, PUB_PREFIX: prefix, PUB_MOVIES: String(MOVIES) },
    true,
  );
  await sleep(1500); // publisher up (tsx start) before it is told to go

  for (const rate of RATES) {
    const load = os.loadavg()[0]!;
    tell(pub, { t: 'start', rate });
    await sleep(2000); // warm-up
    const w: Record<string, number[]> = {};
    const push = (k: string, v: number) => {
      (w[k] ??= []).push(v);
    };
    let disconnects = 0;
    let note: string | undefined;
    for (let i = 0; i < WINDOWS && !note; i++) {
      for (const g of [...gens, pub]) tell(g, { t: 'window-start' });
      const pids = {
        server: server.pid,
        pub: pub.pid,
        redis: redis.pid(),
        self: process.pid,
      };
      const a = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, procStat(p).cpuS]));
      const ga = gens.reduce((s, g) => s + procStat(g.pid).cpuS, 0);
      const ma = machineCpuS();
      const loopsBefore = loops.length;
      const ta = Date.now();
      await sleep(DURATION_S * 1000);
      const windows = gens.map((g) => waitMsg(g, 'window', REPORT_TIMEOUT_MS));
      const pubWindow = waitMsg(pub, 'window', REPORT_TIMEOUT_MS);
      for (const g of [...gens, pub]) tell(g, { t: 'window-end' });
      const b = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, procStat(p).cpuS]));
      const gb = gens.reduce((s, g) => s + procStat(g.pid).cpuS, 0);
      const mb = machineCpuS();
      const dt = (Date.now() - ta) / 1000;
      let res: Array<Extract<FromChild, { t: 'window' }>>;
      try {
        res = await Promise.all(windows);
      } catch {
        note = `generators did not report within ${REPORT_TIMEOUT_MS / 1000} s of the window end (event loops blocked by their backlog)`;
        break;
      }
      const h = new Histogram();
      let count = 0;
      let genLoop = 0;
      for (const m of res) {
        h.addSparse(m.hist);
        count += m.count;
        disconnects += m.disconnects;
        genLoop = Math.max(genLoop, m.loopP99 ?? 0);
      }
      const cpu = (k: string) => ((b[k]! - a[k]!) / dt) * 100;
      push('delivered', count / dt);
      // each tweet goes to the clients of its movie: connected / MOVIES of them
      push(
        'offered',
        (((await pubWindow.catch(() => ({ count: Number.NaN }))).count / dt) * connected) / MOVIES,
      );
      push('p50', h.quantile(0.5));
      push('p99', h.quantile(0.99));
      push('cpu', cpu('server'));
      push('pubCpu', cpu('pub'));
      push('redisCpu', cpu('redis'));
      push('genCpu', ((gb - ga) / dt) * 100);
      const ours = (['server', 'pub', 'redis', 'self'] as const).reduce((s, k) => s + cpu(k), 0);
      const irq = ((mb.irq - ma.irq) / dt) * 100;
      push('irqCpu', irq);
      // clamped: /proc tick granularity makes a quiet machine read slightly negative
      push('otherCpu', Math.max(0, ((mb.busy - ma.busy) / dt) * 100 - irq - ours - ((gb - ga) / dt) * 100));
      push('machineCpu', ((mb.busy - ma.busy) / dt) * 100);
      push('genLoop', genLoop);
      const inWindow = loops.slice(loopsBefore);
      push('loopP99', median(inWindow.map((l) => l.p99)));
      push('loopMax', Math.max(...inWindow.map((l) => l.max)));
    }
    const stopped = waitMsg(pub, 'published', 10_000);
    tell(pub, { t: 'stop' });
    await stopped.catch(() => undefined);
    await sleep(1500); // let the backlog drain before the next rate
    const m = (k: string) => median(w[k] ?? []);
    rows.push({
      target,
      clients,
      rate,
      connected,
      connectS,
      rssMB: loaded.rssB / 2 ** 20,
      kbPerConn: connected ? (loaded.rssB - base.rssB) / 1024 / connected : Number.NaN,
      delivered: m('delivered'),
      offered: m('offered'),
      p50: m('p50'),
      p99: m('p99'),
      cpu: m('cpu'),
      loopP99: m('loopP99'),
      loopMax: m('loopMax'),
      genLoopP99: m('genLoop'),
      genCpu: m('genCpu'),
      pubCpu: m('pubCpu'),
      redisCpu: m('redisCpu'),
      otherCpu: m('otherCpu'),
      machineCpu: m('machineCpu'),
      irqCpu: m('irqCpu'),
      load,
      disconnects,
      note,
    });
    if (note) break;
  }
  hb?.stop();
  clearInterval(scrape);
  tell(pub, { t: 'exit' });
  for (const g of gens) tell(g, { t: 'exit' });
  await sleep(500);
  for (const c of [...gens, pub]) c.kill('SIGKILL');
  if (PROF_DIR) {
    // a graceful exit writes the CPU profile
    const exited = new Promise((res) => server.once('exit', res));
    server.kill('SIGTERM');
    await Promise.race([exited, sleep(20_000)]);
  }
  server.kill('SIGKILL');
  await sleep(500);
  return rows;
}

/** One row per (server, C, rate): the median of each figure over the runs, and the runs' p50/p99 ranges. */
function mergeRuns(rows: Row[]): Row[] {
  const groups = new Map<string, Row[]>();
  for (const r of rows) {
    const key = `${r.target}|${r.clients}|${r.rate}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  return [...groups.values()].map((g) => {
    const out = { ...g[0]! } as Row & Record<string, unknown>;
    for (const [key, v] of Object.entries(g[0]!)) {
      if (typeof v === 'number')
        out[key] = median(g.map((r) => (r as unknown as Record<string, number>)[key]!));
    }
    out.disconnects = g.reduce((a, r) => a + r.disconnects, 0);
    out.runs = g.length;
    out.p50s = g.map((r) => r.p50);
    out.p99s = g.map((r) => r.p99);
    out.note = g.map((r) => r.note).find(Boolean);
    return out;
  });
}

const fmt = (x: number, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : '—');
const k = (x: number) => (Number.isFinite(x) ? `${Math.round(x / 1000)}k` : '—');

function table(rows: Row[]): string {
  const head =
    '| server | C | tweets/s | connected | connect s | RSS MiB | KiB/conn | offered msg/s | delivered msg/s | p50 ms | p99 ms | server CPU % | server loop delay p99 / max ms | generators CPU % | generator loop p99 ms | publisher CPU % | redis CPU % | softirq CPU % | other load CPU % | machine CPU % (of 200) | dropped conns |';
  const sep = `|---|${'---:|'.repeat(20)}`;
  const lines = rows.map(
    (r) =>
      `| ${NAMES[r.target]} | ${r.clients} | ${r.rate} | ${r.connected} | ${fmt(r.connectS, 1)} | ${fmt(r.rssMB)} | ${fmt(r.kbPerConn, 1)} | ${k(r.offered)} | ${k(r.delivered)} | ${fmt(r.p50, 1)} | ${fmt(r.p99, 1)} | ${fmt(r.cpu)} | ${fmt(r.loopP99, 1)} / ${fmt(r.loopMax)} | ${fmt(r.genCpu)} | ${fmt(r.genLoopP99, 1)} | ${fmt(r.pubCpu)} | ${fmt(r.redisCpu)} | ${fmt(r.irqCpu)} | ${fmt(r.otherCpu)} | ${fmt(r.machineCpu)} | ${r.disconnects} |` +
      (r.note ? `\n| ${NAMES[r.target]} | ${r.clients} | ${r.rate} | ${r.note} |` : ''),
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

/** Protocol 1.1 against 1.0 on the same endpoint: what offsets cost. */
function protocolRatios(rows: Row[]): string {
  const out = [
    '| C | tweets/s | delivered/s 1.1 | delivered/s 1.0 | 1.1 ÷ 1.0 | p99 1.1 ms | p99 1.0 ms | CPU % 1.1 | CPU % 1.0 |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const o of rows.filter((r) => r.target === 'ours')) {
    const z = rows.find((r) => r.target === 'ours10' && r.clients === o.clients && r.rate === o.rate);
    if (!z) continue;
    out.push(
      `| ${o.clients} | ${o.rate} | ${k(o.delivered)} | ${k(z.delivered)} | ${fmt(o.delivered / z.delivered, 3)}× | ${fmt(o.p99, 1)} | ${fmt(z.p99, 1)} | ${fmt(o.cpu)} | ${fmt(z.cpu)} |`,
    );
  }
  return out.join('\n');
}

/** What /metrics costs: the endpoint with it against without, same C and rate (medians of alternating runs). */
function metricsCost(rows: Row[]): string {
  const out = [
    '| C | tweets/s | delivered msg/s off → on | delivered change | p99 ms off → on | p99 change | server CPU % off → on |',
    '|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const m of rows.filter((r) => r.target === 'ours+metrics')) {
    const o = rows.find((r) => r.target === 'ours' && r.clients === m.clients && r.rate === m.rate);
    if (!o) continue;
    const pct = (a: number, b: number) => `${b >= a ? '+' : ''}${fmt(((b - a) / a) * 100, 1)} %`;
    out.push(
      `| ${m.clients} | ${m.rate} | ${k(o.delivered)} → ${k(m.delivered)} | ${pct(o.delivered, m.delivered)} | ${fmt(o.p99, 1)} → ${fmt(m.p99, 1)} | ${pct(o.p99, m.p99)} | ${fmt(o.cpu)} → ${fmt(m.cpu)} |`,
    );
  }
  return out.join('\n');
}

/** The endpoint on the release's pinned Node against the Node running the bench (issue 15). */
function runtimeRatios(rows: Row[]): string {
  const out = [
    `| C | tweets/s | delivered/s ${process.version} | delivered/s pinned | pinned ÷ current | p99 ms current → pinned | server CPU % current → pinned |`,
    '|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const o of rows.filter((r) => r.target === 'ours')) {
    const z = rows.find((r) => r.target === 'ours@pinned' && r.clients === o.clients && r.rate === o.rate);
    if (!z) continue;
    out.push(
      `| ${o.clients} | ${o.rate} | ${k(o.delivered)} | ${k(z.delivered)} | ${fmt(z.delivered / o.delivered, 3)}× | ${fmt(o.p99, 1)} → ${fmt(z.p99, 1)} | ${fmt(o.cpu)} → ${fmt(z.cpu)} |`,
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
  // Every client is one fd in the server process: the hard open-files limit caps C per process.
  const hardFd = Number(
    /Max open files\s+\d+\s+(\d+)/.exec(fs.readFileSync('/proc/self/limits', 'utf8'))?.[1],
  );
  const maxC = hardFd - 500; // listening socket, Redis, logs, pipes, headroom
  console.log(
    PIN
      ? `pinned: server on core ${PIN.server}, generators on core(s) ${PIN.gens}; redis and the publisher float (--pin off: none pinned)`
      : 'not pinned: the scheduler places every process',
  );
  console.log(
    `hard open-files limit per process: ${hardFd} → at most ~${maxC} clients in one server process`,
  );
  const rows: Row[] = [];
  try {
    for (const c of CLIENTS) {
      if (c > maxC) {
        console.log(`  C=${c}: skipped, above what the open-files limit (${hardFd}) allows in one process`);
        continue;
      }
      for (let run = 0; run < RUNS; run++)
        // alternate which server goes first, so neither always gets the fresher machine
        for (const t of run % 2 ? [...TARGETS].reverse() : TARGETS) {
          process.stdout.write(`  ${NAMES[t]}, C=${c}${RUNS > 1 ? `, run ${run + 1}/${RUNS}` : ''} … `);
          try {
            const got = await scenario(redis, t, c);
            rows.push(...got);
            console.log(
              got
                .map(
                  (row) =>
                    `[${row.rate}/s] ${row.connected} connected, ${k(row.delivered)}/${k(row.offered)} msg/s, p50 ${fmt(row.p50, 1)} ms, p99 ${fmt(row.p99, 1)} ms, ${fmt(row.kbPerConn, 1)} KiB/conn, CPU ${fmt(row.cpu)}%, loop p99 ${fmt(row.loopP99, 1)} ms, gens CPU ${fmt(row.genCpu)}% loop p99 ${fmt(row.genLoopP99, 1)} ms, other ${fmt(row.otherCpu)}%${row.note ? `, ${row.note}` : ''}`,
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
  const merged = mergeRuns(rows);
  if (RUNS > 1) {
    console.log(`\nMedians of ${RUNS} runs (p50 / p99 of each run):`);
    for (const r of merged)
      console.log(
        `  ${NAMES[r.target]} C=${r.clients} ${r.rate}/s: p50 ${r.p50s!.map((x) => fmt(x, 1)).join(', ')} ms; p99 ${r.p99s!.map((x) => fmt(x, 1)).join(', ')} ms`,
      );
  }
  console.log(`\n${table(merged)}\n`);
  if (TARGETS.includes('ours') && TARGETS.includes('sio')) console.log(`${ratios(merged)}\n`);
  if (TARGETS.includes('ours10') && TARGETS.includes('ours')) console.log(`${protocolRatios(merged)}\n`);
  if (TARGETS.includes('ours') && TARGETS.includes('ours+metrics')) console.log(`${metricsCost(merged)}\n`);
  if (TARGETS.includes('ours') && TARGETS.includes('ours@pinned')) console.log(`${runtimeRatios(merged)}\n`);
  process.exit(0);
}

void main();
