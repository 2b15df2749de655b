// Flood benchmark (issue 12, item 9): a canary client measures ping round trips to one endpoint process, first
// alone, then while two clients flood it with 64 KiB lines (valid JSON, the costliest thing to parse; a flooder
// that is closed reconnects at once, as an attacker would). Runs the endpoint of a baseline commit (before) and
// of this tree (after) side by side, alternating, and prints medians over runs.
//
//   npx tsx bench/endpoint-flood.ts                     # before = 8262eb6 (the parent of the fix), 3 runs
//   npx tsx bench/endpoint-flood.ts --baseline main --runs 5 --duration 10
//
// Flags (each also an env var): --baseline <git ref> (BENCH_BASELINE), --runs 3 (BENCH_RUNS), --duration 8
// seconds of flood per run (BENCH_DURATION), --idle 3 seconds of canary alone (BENCH_IDLE).
import { type ChildProcess, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Command, Option } from 'commander';
import { Redis } from 'ioredis';
import { redisContract } from '../protocol/redis-contract.ts';
import { queueCatalog } from '../protocol/redis-writes.ts';
import { readHeartbeats } from '../roles/runtime/heartbeat.ts';
import {
  cleanupAll,
  killTracked,
  makeTempDir,
  spawnTracked,
  startRedis,
  waitForLine,
} from '../test/harness/index.ts';
import { Histogram } from './endpoint/histogram.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const LINE = Buffer.from(`{"action":"ping","params":{"id":"${'a'.repeat(64 * 1024 - 64)}"}}\n`);
const HELLO = '{"action":"connect","params":{"client":{"app":"bench","version":"1"}}}\n';

// ---- flooder child: `--flooder PORT SECONDS` ----
if (process.argv[2] === '--flooder') {
  const port = Number(process.argv[3]);
  const until = Date.now() + Number(process.argv[4]) * 1000;
  let bytes = 0;
  let connections = 0;
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      connections++;
      const s = net.connect({ host: '127.0.0.1', port });
      s.on('error', () => {});
      s.on('data', () => {});
      s.on('close', () => resolve());
      s.once('connect', () => {
        s.write(HELLO);
        const pump = () => {
          while (Date.now() < until && !s.destroyed) {
            bytes += LINE.length;
            if (!s.write(LINE)) return void s.once('drain', pump);
          }
          s.destroy();
        };
        pump();
      });
    });
  while (Date.now() < until) await one();
  process.stdout.write(`${JSON.stringify({ bytes, connections })}\n`);
  process.exit(0);
}

const opts = new Command('bench:endpoint-flood')
  .addOption(
    new Option('--baseline <ref>', 'git ref of the "before" endpoint')
      .env('BENCH_BASELINE')
      .default('8262eb6'),
  )
  .addOption(new Option('--runs <n>', 'runs per side, alternating').env('BENCH_RUNS').default('3'))
  .addOption(new Option('--duration <s>', 'seconds of flood per run').env('BENCH_DURATION').default('8'))
  .addOption(new Option('--idle <s>', 'seconds of canary alone per run').env('BENCH_IDLE').default('3'))
  .parse()
  .opts<{ baseline: string; runs: string; duration: string; idle: string }>();

/** The tree at `ref` (its roles, protocol and bins), using this tree's node_modules. */
function checkout(ref: string): string {
  const dir = makeTempDir('flood-baseline');
  const tar = execFileSync('git', ['-C', ROOT, 'archive', ref, 'bin', 'roles', 'protocol', 'package.json']);
  execFileSync('tar', ['-x', '-C', dir], { input: tar });
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  return dir;
}

interface Figures {
  idle: { p50: number; p99: number; max: number; n: number };
  flood: { p50: number; p99: number; max: number; n: number };
  floodMB: number;
  floodConnections: number;
  canaryErrors: number;
  /** highest event-loop delay p99 the endpoint's heartbeats reported during the flood */
  loopP99: number;
}

async function runOnce(tree: string, redisUrl: string, prefix: string, r: Redis): Promise<Figures> {
  const ep = spawnTracked(
    process.execPath,
    [
      path.join(tree, 'bin/endpoint.mjs'),
      '--redis',
      redisUrl,
      '--prefix',
      prefix,
      '--host',
      '127.0.0.1',
      '--port',
      '0',
    ],
    // as env vars: a baseline without these options ignores them
    { cwd: tree, name: 'endpoint', env: { ...process.env, FG_ENDPOINT_MAX_PER_IP: '100000' } },
  );
  try {
    const port = JSON.parse(await waitForLine(ep, /"msg":"listening"/, 30_000)).port as number;
    const canary = net.connect({ host: '127.0.0.1', port });
    await new Promise((r) => canary.once('connect', r));
    canary.write(HELLO);
    let errors = 0;
    let pending: ((t: number) => void) | null = null;
    let tail = '';
    canary.on('data', (d: Buffer) => {
      tail += d.toString('latin1');
      let i = tail.indexOf('\n');
      while (i >= 0) {
        const line = tail.slice(0, i);
        tail = tail.slice(i + 1);
        if (line.includes('"action":"error"')) errors++;
        if (line.includes('"action":"pong"') && pending) {
          const p = pending;
          pending = null;
          p(performance.now());
        }
        i = tail.indexOf('\n');
      }
    });
    const measure = async (seconds: number, h: Histogram) => {
      const until = Date.now() + seconds * 1000;
      while (Date.now() < until) {
        const t0 = performance.now();
        const t1 = await new Promise<number>((r) => {
          pending = r;
          canary.write('{"action":"ping","params":{"id":1}}\n');
        });
        h.add(t1 - t0);
        // about 16 pings/s: within the default rate limit (20/s), so the canary itself is never limited
        await new Promise((r) => setTimeout(r, 60));
      }
    };
    const idle = new Histogram();
    await measure(Number(opts.idle), idle);
    const duration = Number(opts.duration);
    const flooders: ChildProcess[] = [0, 1].map(() =>
      spawnTracked(
        process.execPath,
        [
          '--import',
          'tsx',
          path.join(ROOT, 'bench/endpoint-flood.ts'),
          '--flooder',
          String(port),
          String(duration),
        ],
        {
          cwd: ROOT,
          name: 'flooder',
        },
      ),
    );
    const results = flooders.map(
      (f) =>
        new Promise<{ bytes: number; connections: number }>((resolve) => {
          let out = '';
          f.stdout!.on('data', (d: Buffer) => (out += d.toString()));
          f.once('exit', () => resolve(JSON.parse(out.trim() || '{"bytes":0,"connections":0}')));
        }),
    );
    await new Promise((r) => setTimeout(r, 500)); // flooders start (tsx)
    const flood = new Histogram();
    let loopP99 = 0;
    const beats = setInterval(async () => {
      for (const hb of await readHeartbeats(r, redisContract(prefix)).catch(() => []))
        if (hb.role === 'endpoint') loopP99 = Math.max(loopP99, hb.gauges.loop_delay_p99_ms ?? 0);
    }, 1000);
    await measure(duration - 1, flood);
    clearInterval(beats);
    const done = await Promise.all(results);
    canary.destroy();
    const fig = (h: Histogram) => ({
      p50: h.quantile(0.5),
      p99: h.quantile(0.99),
      max: h.quantile(1),
      n: h.n,
    });
    return {
      idle: fig(idle),
      flood: fig(flood),
      floodMB: done.reduce((a, x) => a + x.bytes, 0) / 1e6,
      floodConnections: done.reduce((a, x) => a + x.connections, 0),
      canaryErrors: errors,
      loopP99,
    };
  } finally {
    await killTracked(ep);
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const redis = await startRedis();
try {
  const r = new Redis(redis.url);
  const sides = [
    { name: `before (${opts.baseline})`, tree: checkout(opts.baseline), runs: [] as Figures[] },
    { name: 'after (this tree)', tree: ROOT, runs: [] as Figures[] },
  ];
  let n = 0;
  for (let run = 0; run < Number(opts.runs); run++) {
    for (const side of run % 2 ? [...sides].reverse() : sides) {
      const prefix = `flood${++n}:`;
      const p = r.multi();
      queueCatalog(p, redisContract(prefix), [{ id: 1, title: 'Arrival' }]);
      await p.exec();
      const f = await runOnce(side.tree, redis.url, prefix, r);
      side.runs.push(f);
      console.log(`${side.name} run ${run + 1}: ${JSON.stringify(f)}`);
    }
  }
  r.disconnect();
  console.log('\ncanary ping round trip, ms (medians over runs); flood = two clients sending 64 KiB lines');
  console.log(
    'side                    idle p50  idle p99   flood p50  flood p99  flood max  flood MB  flood conns  loop p99',
  );
  for (const s of sides) {
    const m = (f: (x: Figures) => number) => median(s.runs.map(f));
    console.log(
      `${s.name.padEnd(22)} ${m((x) => x.idle.p50)
        .toFixed(1)
        .padStart(9)} ${m((x) => x.idle.p99)
        .toFixed(1)
        .padStart(9)} ${m((x) => x.flood.p50)
        .toFixed(1)
        .padStart(11)} ${m((x) => x.flood.p99)
        .toFixed(1)
        .padStart(10)} ${m((x) => x.flood.max)
        .toFixed(1)
        .padStart(10)} ${m((x) => x.floodMB)
        .toFixed(0)
        .padStart(9)} ${m((x) => x.floodConnections)
        .toFixed(0)
        .padStart(12)} ${m((x) => x.loopP99)
        .toFixed(0)
        .padStart(9)}`,
    );
  }
} finally {
  await redis.stop();
  await cleanupAll();
}
