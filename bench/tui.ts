// Dashboard benchmark: the Logs pane under a live stream of 10,000 log lines/s. A producer process writes
// pino lines into a private redis-server's log stream through the roles' own RedisLogSink; this process is
// God: it tails the stream with the dashboard's log feed (God's log service), keeps the store and renders
// the full dashboard (120x40, Logs focused) with Ink into a fake terminal. Measured per variant:
//   - CPU of this process (user+sys, % of one core), frames/s drawn (Ink renders), KB/s written,
//   - input lag: how late a 100 ms timer fires (what a key press waits), p99 and worst,
//   - lines/s taken in, lines still unread when the producer finished, and the time to catch up.
// Variants in the same run (same producer, same rate):
//   - batched (the dashboard): the store tells React at most every 50 ms; Ink draws ≤ 30 frames/s
//   - per-line, Ink capped: the dashboard re-rendered (React, synchronously) on every line; Ink still limits
//     what it writes to the terminal to 30 frames/s
//   - per-line, uncapped: every line re-renders and redraws the terminal (the naive dashboard)
//
//   npm run bench:tui
//   BENCH_RATE=10000 BENCH_SECONDS=8 BENCH_RUNS=3 npm run bench:tui
//
// Flags (each also an env var): --rate 10000 (BENCH_RATE), --seconds 8 (BENCH_SECONDS), --runs 3 (BENCH_RUNS).
import { EventEmitter } from 'node:events';
import os from 'node:os';
import { Command, Option } from 'commander';
import { Redis } from 'ioredis';
import { redisContract } from '../protocol/redis-contract.ts';
import { RedisLogSink } from '../roles/runtime/log-sink.ts';

// ---- producer mode: `tsx bench/tui.ts producer URL PREFIX RATE SECONDS` (a separate process) ----
if (process.argv[2] === 'producer') {
  const [url, prefix, rate, seconds] = process.argv.slice(3);
  await produce(url!, prefix!, Number(rate), Number(seconds));
  process.exit(0);
}

async function produce(url: string, prefix: string, rate: number, seconds: number): Promise<void> {
  const redis = new Redis(url);
  const keys = redisContract(prefix);
  const sinks = ['feeder', 'endpoint', 'keeper'].map(
    (role) =>
      new RedisLogSink({
        redis,
        stream: keys.logStream,
        role,
        id: `${role}-1`,
        host: 'bench',
        maxQueue: 1_000_000,
        flushMs: 20,
      }),
  );
  const t0 = Date.now();
  let sent = 0;
  const levels = [30, 30, 30, 30, 30, 30, 20, 40, 30, 50];
  while (Date.now() - t0 < seconds * 1000) {
    // top up to where the rate says we should be, in 10 ms steps
    const due = Math.floor(((Date.now() - t0) / 1000) * rate);
    for (; sent < due; sent++) {
      const sink = sinks[sent % 3]!;
      sink.write(
        `${JSON.stringify({
          level: levels[sent % levels.length],
          time: new Date().toISOString(),
          role: ['feeder', 'endpoint', 'keeper'][sent % 3],
          id: 'x-1',
          host: 'bench',
          pid: process.pid,
          msg: `line ${sent} of the benchmark stream`,
          movie_id: sent % 977,
          clients: sent % 1000,
        })}\n`,
      );
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  for (const s of sinks) await s.drain(10_000);
  process.stdout.write(`${JSON.stringify({ sent })}\n`);
  redis.disconnect();
}

// ---- God side ----
const opts = new Command('bench:tui')
  .addOption(new Option('--rate <n>', 'log lines per second').env('BENCH_RATE').default('10000'))
  .addOption(new Option('--seconds <n>', 'seconds per run').env('BENCH_SECONDS').default('8'))
  .addOption(new Option('--runs <n>', 'runs per variant (medians)').env('BENCH_RUNS').default('3'))
  .parse()
  .opts();
const RATE = Number(opts.rate);
const SECONDS = Number(opts.seconds);
const RUNS = Number(opts.runs);

// Ink decides at import whether it runs in CI (then it prints only the last frame): a bench measures a terminal.
delete process.env.CI;
// as `god` does (god/tui/open.ts): React's production build
process.env.NODE_ENV ??= 'production';
process.env.FORCE_COLOR = '1';
const { render } = await import('ink');
const { createElement } = await import('react');
const { App } = await import('../god/tui/components/App.tsx');
const { DashboardStore } = await import('../god/tui/store.ts');
const { feedLogs } = await import('../god/tui/adapters/logs.ts');
const { connectFleetRedis } = await import('../god/core/redis.ts');
const { cleanupAll, spawnTracked, startRedis, waitFor, waitForExit, waitForLine } = await import(
  '../test/harness/index.ts'
);

/** A terminal that counts what Ink writes. */
class FakeTty extends EventEmitter {
  isTTY = true;
  columns = 120;
  rows = 40;
  bytes = 0;
  write = (s: string) => {
    this.bytes += Buffer.byteLength(s);
    return true;
  };
}
class FakeStdin extends EventEmitter {
  isTTY = true;
  setRawMode() {}
  setEncoding() {}
  resume() {}
  pause() {}
  ref() {}
  unref() {}
  read() {
    return null;
  }
}

/** A 100 ms timer that notes how late it fires; a loop blocked to the end counts as one long delay. */
class LatencyProbe {
  private readonly lags: number[] = [];
  private last = performance.now();
  private readonly timer = setInterval(() => {
    const now = performance.now();
    this.lags.push(Math.max(0, now - this.last - 100));
    this.last = now;
  }, 100);
  stop(): { p99: number; max: number } {
    clearInterval(this.timer);
    this.lags.push(Math.max(0, performance.now() - this.last - 100));
    const sorted = [...this.lags].sort((a, b) => a - b);
    return { p99: sorted[Math.floor((sorted.length - 1) * 0.99)]!, max: sorted[sorted.length - 1]! };
  }
}

type Variant = 'batched' | 'per-line, Ink capped' | 'per-line, uncapped';
const VARIANTS: Variant[] = ['batched', 'per-line, Ink capped', 'per-line, uncapped'];

interface Result {
  cpu: number;
  fps: number;
  kbps: number;
  /** how late a 100 ms timer fired (what a key press would wait): p99 and worst, ms */
  lagP99: number;
  lagMax: number;
  /** lines the dashboard took in per second while the producer ran */
  linesPerS: number;
  /** lines still in Redis, not yet in the dashboard, when the producer finished */
  behind: number;
  /** seconds the dashboard then needed to show the last line */
  catchUp: number;
  sent: number;
}

async function runOnce(url: string, run: number, variant: Variant): Promise<Result> {
  const prefix = `tui${run}${VARIANTS.indexOf(variant)}:`;
  const fr = await connectFleetRedis(url, { prefix, name: 'bench-tui' });
  const batched = variant === 'batched';
  const store = new DashboardStore({ autoFlush: batched, flushMs: 50 });
  store.setHeader({ fleet: 'bench', redis: url });
  store.view.setFocus('logs');
  const stdout = new FakeTty();
  let frames = 0;
  const app = () => createElement(App, { store, actions: { quit() {} } });
  const ink = render(app(), {
    stdout: stdout as unknown as NodeJS.WriteStream,
    stdin: new FakeStdin() as unknown as NodeJS.ReadStream,
    exitOnCtrlC: false,
    patchConsole: false,
    maxFps: variant === 'per-line, uncapped' ? 0 : 30,
    onRender: () => frames++,
  });
  if (!batched) {
    // the naive dashboard: every line renders the tree at once (React would batch a store notification
    // per task; Ink's rerender is synchronous, like a setState per line in an unbatched UI)
    const push = store.pushLine.bind(store);
    store.pushLine = (l) => {
      push(l);
      ink.rerender(app());
    };
  }
  const abort = new AbortController();
  const tail = feedLogs(store, fr, abort.signal, { history: 0 }).catch(() => {});
  await new Promise((r) => setTimeout(r, 300));
  const producer = spawnTracked(
    process.execPath,
    ['--import', 'tsx', import.meta.filename, 'producer', url, prefix, String(RATE), String(SECONDS)],
    { name: 'producer' },
  );
  // measure from the first line in (the producer takes a moment to start) to the producer's last line out
  await waitFor(() => store.logs.received > 0, 60_000, 'the first log line');
  const probe = new LatencyProbe();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const f0 = frames;
  const b0 = stdout.bytes;
  const r0 = store.logs.received;
  const done = await waitForLine(producer, /"sent":\d+/, (SECONDS + 60) * 1000);
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const lag = probe.stop();
  const sent = JSON.parse(done).sent as number;
  // how far the tail is behind when the last line was written, then how long it takes to catch up
  const atEnd = store.logs.received;
  const tc = performance.now();
  await waitFor(() => store.logs.received >= sent, 30_000, 'the tail to catch up').catch(() => {});
  const catchUp = (performance.now() - tc) / 1000;
  await waitForExit(producer, 5000);
  abort.abort();
  await tail;
  ink.unmount();
  ink.cleanup();
  store.close();
  fr.close();
  return {
    cpu: ((cpu.user + cpu.system) / 1000 / (wall * 1000)) * 100,
    fps: (frames - f0) / wall,
    kbps: (stdout.bytes - b0) / 1024 / wall,
    lagP99: lag.p99,
    lagMax: lag.max,
    linesPerS: (atEnd - r0) / wall,
    behind: sent - atEnd,
    catchUp,
    sent,
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main() {
  const redis = await startRedis();
  const url = redis.url;
  console.log(
    `bench:tui — ${RATE.toLocaleString('en-US')} log lines/s for ${SECONDS} s, ${RUNS} run(s) per variant, dashboard 120x40 (Logs focused); ${os.cpus().length} cores, Node ${process.versions.node}`,
  );
  const all = new Map<Variant, Result[]>(VARIANTS.map((v) => [v, []]));
  for (let run = 0; run < RUNS; run++) {
    // interleaved, so a busy moment of the machine hits every variant alike
    for (const v of VARIANTS) {
      const r = await runOnce(url, run, v);
      all.get(v)!.push(r);
      console.log(
        `  run ${run + 1} ${v.padEnd(22)} cpu ${r.cpu.toFixed(0).padStart(3)}%  ${r.fps.toFixed(1).padStart(5)} frames/s  ${r.kbps.toFixed(0).padStart(5)} KB/s  input lag p99 ${r.lagP99.toFixed(0).padStart(5)} ms max ${r.lagMax.toFixed(0).padStart(5)} ms  in ${r.linesPerS.toFixed(0).padStart(6)} lines/s  behind ${r.behind} (caught up in ${r.catchUp.toFixed(1)} s)`,
      );
    }
  }
  console.log('\nmedians:');
  console.log(
    '| variant | CPU (% of a core) | frames/s | output KB/s | input lag p99 / max | lines/s taken in | behind at end | catch-up |',
  );
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const v of VARIANTS) {
    const rs = all.get(v)!;
    const m = (f: (r: Result) => number) => median(rs.map(f));
    console.log(
      `| ${v} | ${m((r) => r.cpu).toFixed(0)}% | ${m((r) => r.fps).toFixed(1)} | ${m((r) => r.kbps).toFixed(0)} | ${m((r) => r.lagP99).toFixed(0)} / ${m((r) => r.lagMax).toFixed(0)} ms | ${m((r) => r.linesPerS).toFixed(0)} | ${m((r) => r.behind)} | ${m((r) => r.catchUp).toFixed(1)} s |`,
    );
  }
  await redis.stop();
}

// interrupted: still stop the redis-server and the producer
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    void cleanupAll()
      .catch(() => {})
      .finally(() => process.exit(130));
  });
}
try {
  await main();
} finally {
  await cleanupAll().catch(() => {});
}
