// Feeder benchmark, with the real catalog (3,215 movies):
//   - match: tweets/s through the matcher alone, on one core (this process), on two corpora: synthetic
//     stream tweets (70 % about a movie, 30 % chatter) and the labelled evaluation tweets (dense in
//     ambiguous titles); next to the naive baseline (one regex per title, in a loop) measured in the same run
//   - end to end: JSON lines → parse → match → count → publish (PUBLISH + LPUSH/LTRIM/EXPIRE per movie,
//     HINCRBY per minute) into a real redis-server, until Redis acknowledged every publication; next to an
//     unbatched peer (one round trip per tweet) measured in the same run
//
//   npm run bench:feeder
//   BENCH_TWEETS=50000 BENCH_RUNS=1 npm run bench:feeder      # quick look
//
// Flags (each also an env var): --tweets 200000 (BENCH_TWEETS), --runs 5 (BENCH_RUNS, medians),
// --naive-tweets 2000 (BENCH_NAIVE_TWEETS), --unbatched-tweets 3000 (BENCH_UNBATCHED_TWEETS).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command, Option } from 'commander';
import { Redis } from 'ioredis';
import pino from 'pino';
import { type CatalogMovie, redisContract } from '../protocol/redis-contract.ts';
import { queueTweet } from '../protocol/redis-writes.ts';
import { Feeder } from '../roles/feeder/feeder.ts';
import { Matcher } from '../roles/feeder/match/matcher.ts';
import { TweetGenerator } from '../roles/feeder/sources/synthetic.ts';
import { toTweet } from '../roles/feeder/tweet.ts';
import { cleanupAll, startRedis } from '../test/harness/index.ts';
import { evaluate, loadEvalSet } from '../test/feeder/eval/evaluate.ts';
import { NaiveMatcher } from './feeder/naive.ts';

const opts = new Command('bench:feeder')
  .addOption(new Option('--tweets <n>', 'tweets per run').env('BENCH_TWEETS').default('200000'))
  .addOption(new Option('--runs <n>', 'runs (medians)').env('BENCH_RUNS').default('5'))
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
const NAIVE_N = Number(opts.naiveTweets);
const UNBATCHED_N = Number(opts.unbatchedTweets);

const ROOT = path.resolve(import.meta.dirname, '..');
const catalog: CatalogMovie[] = JSON.parse(fs.readFileSync(path.join(ROOT, 'data/movies.json'), 'utf8'));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const sec = () => performance.now() / 1000;

// corpora
const gen = new TweetGenerator(catalog, 2013, 0.3, () => Date.parse('2013-10-04T18:00:00Z'));
const synthetic = Array.from({ length: N }, () => gen.next().obj);
const syntheticTexts = synthetic.map((t) => t.data.text);
const evalTexts = loadEvalSet(catalog).map((t) => t.text);
const evalCorpus = Array.from({ length: N }, (_, i) => evalTexts[i % evalTexts.length]);

/** CPU seconds this process used (user + system): the machine is shared, so rates are per CPU second. */
const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
/** CPU seconds a process has used so far (Linux /proc), for redis-server. */
function cpuOf(pid: number | undefined): number {
  try {
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

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

// end to end into Redis
const redis = await startRedis();
const lines = synthetic.map((o) => JSON.stringify(o));
const silent = pino({ level: 'silent' });

interface E2E {
  /** tweets per wall second */
  rate: number;
  /** tweets per CPU second of the feeder (this process) */
  feederCpu: number;
  /** tweets per CPU second of redis-server */
  redisCpu: number;
  published: number;
}

async function endToEnd(prefix: string, publishMode: 'commands' | 'script'): Promise<E2E> {
  const keys = redisContract(prefix);
  const cmd = new Redis(redis.url, { maxRetriesPerRequest: null });
  const pub = new Redis(redis.url, { enableOfflineQueue: false, maxRetriesPerRequest: 0 });
  await Promise.all([cmd.ping(), new Promise((r) => pub.once('ready', r))]);
  const feeder = new Feeder({
    redis: cmd,
    publishRedis: pub,
    keys,
    log: silent,
    catalog,
    maxBuffer: 200_000,
    batch: 2000,
    publishMode,
  });
  await feeder.start();
  const t = sec();
  const c = cpu();
  const rc = cpuOf(redis.pid());
  for (let i = 0; i < lines.length; i += 2000) {
    const end = Math.min(lines.length, i + 2000);
    for (let j = i; j < end; j++) feeder.ingestLine(lines[j]);
    await feeder.ready();
    await new Promise((r) => setImmediate(r));
  }
  await feeder.publisher.drain(120_000);
  const elapsed = sec() - t;
  const feederCpu = lines.length / (cpu() - c);
  const redisCpu = lines.length / (cpuOf(redis.pid()) - rc);
  const published = feeder.publisher.published;
  await feeder.stop();
  await cmd.flushdb();
  cmd.disconnect();
  pub.disconnect();
  return { rate: lines.length / elapsed, feederCpu, redisCpu, published };
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

try {
  const peer = await unbatched('unb0:');
  console.log('\nend to end into Redis (parse+match+count+publish until acknowledged), tweets/s');
  console.log('  publish mode                      wall clock   per feeder CPU-s   per redis-server CPU-s');
  let best = 0;
  for (const mode of ['commands', 'script'] as const) {
    const runs: E2E[] = [];
    for (let i = 0; i < Math.min(RUNS, 3); i++) runs.push(await endToEnd(`bench-${mode}${i}:`, mode));
    const wall = median(runs.map((r) => r.rate));
    const feederCpu = median(runs.map((r) => r.feederCpu));
    const redisCpu = median(runs.map((r) => r.redisCpu));
    best = Math.max(best, Math.min(feederCpu, redisCpu));
    const name = mode === 'commands' ? 'commands (queueTweet, 4 per pub)' : 'script (1 EVALSHA per batch)';
    console.log(
      `  ${name.padEnd(32)} ${fmt(wall).padStart(11)}   ${fmt(feederCpu).padStart(16)}   ${fmt(redisCpu).padStart(22)}`,
    );
    console.log(
      `      runs (wall): ${runs.map((r) => fmt(r.rate)).join(', ')}; ${fmt(runs[0].published)} publications per run`,
    );
  }
  console.log(`  unbatched peer (1 RTT per tweet) ${fmt(peer).padStart(11)}`);
  console.log(
    `\ngoals (per CPU second, the machine being shared): match ≥ 150,000 tweets/s: ${matchSyn >= 150_000 ? 'met' : 'NOT met'} (synthetic), ` +
      `${matchEval >= 150_000 ? 'met' : 'NOT met'} (evaluation); end to end ≥ 100,000 tweets/s (slower of feeder and Redis, best mode): ` +
      `${best >= 100_000 ? 'met' : 'NOT met'} (${fmt(best)})`,
  );
} finally {
  await redis.stop();
  await cleanupAll();
}
if (sink < 0) console.log(sink);
