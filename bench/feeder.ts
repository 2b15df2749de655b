// Feeder benchmark, with the real catalog (3,215 movies) and the synthetic source's tweets (Zipf-like
// popularity over the catalog, 70 % about a movie, 30 % chatter):
//   - match: tweets/s through the matcher alone, on one core (this process), on two corpora: synthetic
//     stream tweets and the labelled evaluation tweets (dense in ambiguous titles); next to the naive
//     baseline (one regex per title, in a loop) measured in the same run
//   - end to end: JSON lines → parse → match → count → publish (the writes of queueTweet and HINCRBY per
//     minute) into a real redis-server, until Redis acknowledged every publication, in each publish mode,
//     in a child process built with esbuild like the deployed role bundle (modes interleaved run by run);
//     `commands` (queueTweet on ioredis, the former default) is the baseline of the ratio column; also the
//     default mode in this process under tsx, and an unbatched peer (one round trip per tweet)
//
//   npm run bench:feeder
//   BENCH_TWEETS=50000 BENCH_RUNS=1 npm run bench:feeder      # quick look
//
// Flags (each also an env var): --tweets 200000 (BENCH_TWEETS), --runs 5 (BENCH_RUNS, medians),
// --naive-tweets 2000 (BENCH_NAIVE_TWEETS), --unbatched-tweets 3000 (BENCH_UNBATCHED_TWEETS),
// --runtimes current,pinned (BENCH_RUNTIMES: the resp bundle also on the release's pinned Node, same rotation).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command, Option } from 'commander';
import { build } from 'esbuild';
import { Redis } from 'ioredis';
import { type CatalogMovie, redisContract } from '../protocol/redis-contract.ts';
import { queueTweet } from '../protocol/redis-writes.ts';
import type { PublishMode } from '../roles/feeder/publisher.ts';
import { Matcher } from '../roles/feeder/match/matcher.ts';
import { TweetGenerator } from '../roles/feeder/sources/synthetic.ts';
import { toTweet } from '../roles/feeder/tweet.ts';
import { cleanupAll, startRedis } from '../test/harness/index.ts';
import { evaluate, loadEvalSet } from '../test/feeder/eval/evaluate.ts';
import { cpu, type E2EResult, endToEnd } from './feeder/e2e.ts';
import { NaiveMatcher } from './feeder/naive.ts';
import { benchRuntimes } from './runtimes.ts';

const opts = new Command('bench:feeder')
  .addOption(new Option('--tweets <n>', 'tweets per run').env('BENCH_TWEETS').default('200000'))
  .addOption(new Option('--runs <n>', 'runs (medians)').env('BENCH_RUNS').default('5'))
  .addOption(
    new Option('--runtimes <list>', 'Node runtimes of the bundled resp run: current,pinned')
      .env('BENCH_RUNTIMES')
      .default('current'),
  )
  .addOption(
    new Option('--naive-tweets <n>', 'tweets for the naive matcher')
      .env('BENCH_NAIVE_TWEETS')
      .default('2000'),
  )
  .addOption(
    new Option('--unbatched-tweets <n>', 'tweets for the unbatched peer')
      .env('BENCH_UNBATCHED_TWEETS')
      .default('3000'),
  )
  .parse()
  .opts();
const N = Number(opts.tweets);
const RUNS = Number(opts.runs);
const RUNTIMES = await benchRuntimes(String(opts.runtimes));
const NAIVE_N = Number(opts.naiveTweets);
const UNBATCHED_N = Number(opts.unbatchedTweets);

const ROOT = path.resolve(import.meta.dirname, '..');
const CATALOG = path.join(ROOT, 'data/movies.json');
const catalog: CatalogMovie[] = JSON.parse(fs.readFileSync(CATALOG, 'utf8'));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const sec = () => performance.now() / 1000;

// corpora
const gen = new TweetGenerator(catalog, 2013, 0.3, () => Date.parse('2013-10-04T18:00:00Z'));
const synthetic = Array.from({ length: N }, () => gen.next().obj);
const syntheticTexts = synthetic.map((t) => t.data.text);
const evalTexts = loadEvalSet(catalog).map((t) => t.text);
const evalCorpus = Array.from({ length: N }, (_, i) => evalTexts[i % evalTexts.length]);

let wallRates: number[] = [];
/** tweets per CPU second of this thread (wall-clock rate kept in wallRates) */
function rate(fn: (texts: string[]) => void, texts: string[]): number {
  const t = sec();
  const c = cpu();
  fn(texts);
  wallRates.push(texts.length / (sec() - t));
  return texts.length / (cpu() - c);
}

const built = sec();
const matcher = new Matcher(catalog);
const buildMs = (sec() - built) * 1000;
const naive = new NaiveMatcher(catalog);
let sink = 0;
const run = (m: { match(t: string): number[] }) => (texts: string[]) => {
  for (const t of texts) sink += m.match(t).length;
};

console.log(
  `feeder bench: catalog ${catalog.length} movies, ${fmt(N)} tweets per run, ${RUNS} runs (medians)`,
);
console.log(
  `machine: ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`,
);
console.log(`automaton: ${fmt(matcher.states)} states, built in ${fmt(buildMs)} ms\n`);

rate(run(matcher), syntheticTexts.slice(0, 20000)); // warm up
wallRates = [];
const matchSyn = median(Array.from({ length: RUNS }, () => rate(run(matcher), syntheticTexts)));
const matchSynWall = median(wallRates);
wallRates = [];
const matchEval = median(Array.from({ length: RUNS }, () => rate(run(matcher), evalCorpus)));
const matchEvalWall = median(wallRates);
const naiveSyn = median(
  Array.from({ length: Math.min(RUNS, 3) }, () => rate(run(naive), syntheticTexts.slice(0, NAIVE_N))),
);
const naiveEval = median(
  Array.from({ length: Math.min(RUNS, 3) }, () => rate(run(naive), evalCorpus.slice(0, NAIVE_N))),
);
const quality = evaluate(matcher, loadEvalSet(catalog));

console.log('match alone, one core           tweets/CPU-s  (wall)       naive regex loop   ratio');
console.log(
  `  synthetic stream tweets      ${fmt(matchSyn).padStart(10)}  (${fmt(matchSynWall)})   ${fmt(naiveSyn).padStart(12)}   ${(matchSyn / naiveSyn).toFixed(0)}×`,
);
console.log(
  `  evaluation tweets (hard)     ${fmt(matchEval).padStart(10)}  (${fmt(matchEvalWall)})   ${fmt(naiveEval).padStart(12)}   ${(matchEval / naiveEval).toFixed(0)}×`,
);
console.log(
  `  precision ${quality.precision.toFixed(3)}  recall ${quality.recall.toFixed(3)}  on ${quality.tweets} labelled tweets ` +
    `(${quality.positives} about movies, ${quality.negatives} not; ${quality.expectedPairs} tweet-movie pairs)\n`,
);

// end to end into Redis: the bundled child per mode and run (modes interleaved, so load changes hit all alike)
const redis = await startRedis();
const lines = synthetic.map((o) => JSON.stringify(o));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-feeder-'));
const linesFile = path.join(tmp, 'tweets.ndjson');
fs.writeFileSync(linesFile, `${lines.join('\n')}\n`);
const childFile = path.join(tmp, 'e2e-child.mjs');
await build({
  entryPoints: [path.join(ROOT, 'bench/feeder/e2e-child.ts')],
  outfile: childFile,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  logLevel: 'warning',
  // as scripts/build.mjs: bundled CommonJS dependencies call require()
  banner: {
    js: "import { createRequire as __fgCreateRequire } from 'node:module';\nconst require = __fgCreateRequire(import.meta.url);",
  },
});

function bundled(mode: PublishMode, prefix: string, node = process.execPath): E2EResult {
  const arg = { url: redis.url, redisPid: redis.pid(), linesFile, catalogFile: CATALOG, prefix, mode };
  const out = execFileSync(node, [childFile, JSON.stringify(arg)], {
    encoding: 'utf8',
    timeout: 300_000,
  });
  return JSON.parse(out.trim().split('\n').pop()!);
}

async function unbatched(prefix: string): Promise<number> {
  const keys = redisContract(prefix);
  const r = new Redis(redis.url);
  const t = sec();
  for (const line of lines.slice(0, UNBATCHED_N)) {
    const p = toTweet(JSON.parse(line), Date.now());
    if (!p.ok) continue;
    const movies = matcher.match(p.text);
    if (!movies.length) continue;
    const m = r.multi();
    for (const id of movies) {
      queueTweet(m, keys, id, p.tweet);
      m.hincrby(keys.countBucket(0), String(id), 1);
    }
    await m.exec();
  }
  const elapsed = sec() - t;
  r.disconnect();
  return UNBATCHED_N / elapsed;
}

const MODES: Array<{ mode: PublishMode; name: string }> = [
  { mode: 'resp', name: 'resp (default; RESP, per-movie)' },
  { mode: 'commands', name: 'commands (queueTweet, ioredis)' },
  { mode: 'script', name: 'script (1 EVALSHA per batch)' },
];

try {
  const peer = await unbatched('unb0:');
  const runs = new Map<string, E2EResult[]>(MODES.map((m) => [m.mode, []]));
  const inProcess: E2EResult[] = [];
  const E2E_RUNS = RUNS;
  // the runtimes beyond the current one: the resp bundle again on each, in the same rotation
  const otherRuntimes = RUNTIMES.filter((rt) => rt.node !== process.execPath);
  const byRuntime = new Map<string, E2EResult[]>(RUNTIMES.map((rt) => [rt.name, []]));
  for (let i = 0; i < E2E_RUNS; i++) {
    for (const { mode } of MODES) runs.get(mode)!.push(bundled(mode, `bench-${mode}${i}:`));
    for (const rt of otherRuntimes)
      byRuntime.get(rt.name)!.push(bundled('resp', `bench-${rt.name}${i}:`, rt.node));
    inProcess.push(
      await endToEnd({
        url: redis.url,
        redisPid: redis.pid(),
        lines,
        catalog,
        prefix: `bench-tsx${i}:`,
        mode: 'resp',
      }),
    );
  }
  const summary = (rs: E2EResult[]) => ({
    wall: median(rs.map((r) => r.rate)),
    feederCpu: median(rs.map((r) => r.feederCpu)),
    redisCpu: median(rs.map((r) => r.redisCpu)),
    commands: median(rs.map((r) => r.commandsPerPub)),
  });
  const base = summary(runs.get('commands')!);
  console.log(
    `\nend to end into Redis (parse+match+count+publish until acknowledged), tweets/s; ${fmt(runs.get('resp')![0].published)} publications per run`,
  );
  console.log(
    '  publish mode (esbuild bundle)        wall clock   per feeder CPU-s   vs commands   per redis CPU-s   Redis cmds/pub',
  );
  let best = 0;
  const row = (name: string, rs: E2EResult[]) => {
    const x = summary(rs);
    best = Math.max(best, Math.min(x.feederCpu, x.redisCpu));
    console.log(
      `  ${name.padEnd(35)} ${fmt(x.wall).padStart(11)}   ${fmt(x.feederCpu).padStart(16)}   ${(x.feederCpu / base.feederCpu).toFixed(2).padStart(10)}×   ${fmt(x.redisCpu).padStart(15)}   ${x.commands.toFixed(2).padStart(14)}`,
    );
    console.log(`      runs (per feeder CPU-s): ${rs.map((r) => fmt(r.feederCpu)).join(', ')}`);
  };
  for (const { mode, name } of MODES) row(name, runs.get(mode)!);
  row('resp, in-process under tsx', inProcess);
  console.log(`  unbatched peer (1 RTT per tweet)    ${fmt(peer).padStart(11)}`);
  if (otherRuntimes.length) {
    const current = RUNTIMES.find((rt) => rt.node === process.execPath);
    if (current) byRuntime.set(current.name, runs.get('resp')!);
    const ref = summary(runs.get('resp')!);
    console.log('\nresp bundle per runtime (same rotation), tweets/s');
    console.log('  runtime                   wall clock   per feeder CPU-s   vs current (CPU-s)');
    for (const rt of RUNTIMES) {
      const x = summary(byRuntime.get(rt.name)!);
      console.log(
        `  ${`${rt.name} ${rt.version}`.padEnd(24)} ${fmt(x.wall).padStart(11)}   ${fmt(x.feederCpu).padStart(16)}   ${(x.feederCpu / ref.feederCpu).toFixed(2).padStart(17)}×`,
      );
      console.log(
        `      runs (per feeder CPU-s): ${byRuntime
          .get(rt.name)!
          .map((r) => fmt(r.feederCpu))
          .join(', ')}`,
      );
    }
  }
  console.log(
    `\ngoals (per CPU second, the machine being shared): match ≥ 150,000 tweets/s: ${matchSyn >= 150_000 ? 'met' : 'NOT met'} (synthetic), ` +
      `${matchEval >= 150_000 ? 'met' : 'NOT met'} (evaluation); end to end ≥ 100,000 tweets/s (slower of feeder and Redis, best mode): ` +
      `${best >= 100_000 ? 'met' : 'NOT met'} (${fmt(best)})`,
  );
} finally {
  await redis.stop();
  await cleanupAll();
  fs.rmSync(tmp, { recursive: true, force: true });
}
if (sink < 0) console.log(sink);
