// Sentinel failover drill, measured: a real fleet (feeder on the synthetic source publishing over raw RESP, an
// endpoint with N clients spread over every movie, a keeper archiving to a folder) on a Sentinel set (primary,
// replica, three redis-sentinels: down-after 1 s), and the primary SIGKILLed mid-run. Per drill:
//   - promoted:   SIGKILL → the sentinels name the replica as master
//   - healthy:    SIGKILL → every role's heartbeat written on the new master (each role's reconnect rewrites it)
//   - clients:    SIGKILL → every client got a tweet made after the kill
//   - dropped:    (movie, tweet) publications the feeder had acknowledged in the window (its published_total
//                 gauge, heartbeat to heartbeat) minus the distinct ones the clients got (every movie has a
//                 watcher); edge error a few publications either way
//   - log lost:   JSON log lines the feeder and endpoint wrote to stdout minus the distinct ones in the archive
// The baseline is the same drill without the kill (alternating: baseline, failover, baseline, ...), so what
// the fleet drops anyway is told apart from what the failover costs. Medians of the runs.
//
//   npx tsx bench/redis-failover.ts                      # 5 drills + 5 baselines, 100 clients, 200 tweets/s
//   BENCH_RUNS=1 BENCH_CLIENTS=40 npx tsx bench/redis-failover.ts
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import type { Redis } from 'ioredis';
import { KEEPER_GROUP, redisContract } from '../protocol/redis-contract.ts';
import { parseHeartbeat } from '../protocol/heartbeats.ts';
import { connectRedis } from '../roles/runtime/redis.ts';
import { LineClient } from '../test/endpoint/helpers.ts';
import { TEST_CATALOG } from '../test/feeder/helpers.ts';
import {
  cleanupAll,
  killTracked,
  makeTempDir,
  recentOutput,
  sleep,
  spawnRole,
  startSentinelSet,
  waitFor,
  waitForLine,
} from '../test/harness/index.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 100);
const RATE = Number(process.env.BENCH_RATE ?? 200);
/** seconds of steady publishing before and after the kill */
const BEFORE_S = 5;
const AFTER_S = 15;

interface Drill {
  promotedMs?: number;
  healthyMs?: number;
  clientsMs?: number;
  published: number;
  delivered: number;
  dropped: number;
  logWritten: number;
  logArchived: number;
  logLost: number;
  /** roles without a fresh heartbeat on the new master by the end of the window */
  notHealthy?: string[];
  /** clients that got a tweet made after the kill (the others' movies got none in the window) */
  clientsWithNew?: number;
  /** the first lost lines' msg, to see what went missing */
  lostMsgs?: string[];
}

function archivedLines(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (p.endsWith('.gz'))
        out.push(...zlib.gunzipSync(fs.readFileSync(p)).toString('utf8').split('\n'));
    }
  };
  if (fs.existsSync(dir)) walk(dir);
  return out.filter(Boolean);
}

async function heartbeat(r: Redis, keys: ReturnType<typeof redisContract>, role: string, id: string) {
  const v = await r.get(keys.heartbeat(role, id)).catch(() => null);
  return v ? parseHeartbeat(v) : undefined;
}

async function drill(kill: boolean, n: number): Promise<Drill> {
  const set = await startSentinelSet();
  const prefix = `bf${n}:`;
  const keys = redisContract(prefix);
  const procs: ChildProcess[] = [];
  const clients: LineClient[] = [];
  const r = connectRedis(set.url, { name: 'bench' });
  try {
    const archive = makeTempDir('bf-archive');
    const role = (name: 'feeder' | 'endpoint' | 'keeper', args: string[]) => {
      const p = spawnRole(name, { redisUrl: set.url, prefix, id: `bf-${name}`, args });
      procs.push(p);
      return p;
    };
    const feeder = role('feeder', [
      '--source',
      'synthetic',
      '--rate',
      String(RATE),
      '--catalog',
      TEST_CATALOG,
    ]);
    const endpoint = role('endpoint', ['--host', '127.0.0.1', '--port', '0']);
    const keeper = role('keeper', ['--archive', `file://${archive}`, '--flush', '300ms']);
    const port = (JSON.parse(await waitForLine(endpoint, /"msg":"listening"/, 30_000)) as { port: number })
      .port;
    await waitForLine(keeper, /keeper running/, 30_000);
    for (let i = 0; i < CLIENTS; i++) {
      const c = await LineClient.connect(port);
      clients.push(c);
      c.hello();
    }
    // client i watches movie i mod 20: every movie of the catalog has a watcher
    for (const [i, c] of clients.entries()) {
      let movies: number[] = [];
      await c.until(
        (msgs) =>
          (movies = msgs.flatMap((m) => (m.action === 'set_movies' ? m.params.movies.map((x) => x.id) : [])))
            .length > 0,
        30_000,
        'set_movies',
      );
      c.send({ action: 'start_feed', params: { movie_id: movies[i % movies.length] } });
    }
    await sleep(2000); // history sent, live feeds running
    const hb0 = await heartbeat(r, keys, 'feeder', 'bf-feeder');
    await sleep(BEFORE_S * 1000);
    const out: Partial<Drill> = {};
    const killedAt = Date.now();
    if (kill) {
      const old = await set.killMaster();
      await set.waitPromoted(old, 30_000);
      out.promotedMs = Date.now() - killedAt;
      // until the window ends: when every role's heartbeat is on the new master, and when each client got its
      // first tweet made after the kill (a client whose movie got none in the window is left out)
      const roles = ['feeder', 'endpoint', 'keeper'];
      const firstNew: Array<number | undefined> = clients.map(() => undefined);
      while (Date.now() - killedAt < AFTER_S * 1000) {
        if (out.healthyMs === undefined) {
          const missing: string[] = [];
          for (const x of roles) {
            const hb = await heartbeat(r, keys, x, `bf-${x}`);
            if (!hb || Date.parse(hb.at) <= killedAt)
              missing.push(`${x}: ${hb ? `last beat ${hb.at}` : 'none'}`);
          }
          if (missing.length === 0) out.healthyMs = Date.now() - killedAt;
          else out.notHealthy = missing;
        }
        for (const [i, c] of clients.entries()) {
          if (firstNew[i] !== undefined) continue;
          if (
            c.messages.some(
              (m) => m.action === 'post_tweet' && Date.parse(m.params.tweet.created_at) > killedAt,
            )
          ) {
            firstNew[i] = Date.now() - killedAt;
          }
        }
        await sleep(50);
      }
      if (out.healthyMs !== undefined) delete out.notHealthy;
      const got = firstNew.filter((x): x is number => x !== undefined);
      out.clientsMs = got.length ? Math.max(...got) : undefined;
      out.clientsWithNew = got.length;
    }
    await sleep(Math.max(0, AFTER_S * 1000 - (Date.now() - killedAt)));
    // a heartbeat written after this moment closes the window
    const closeAt = Date.now();
    let hb1 = await heartbeat(r, keys, 'feeder', 'bf-feeder');
    await waitFor(
      async () => Date.parse((hb1 = await heartbeat(r, keys, 'feeder', 'bf-feeder'))?.at ?? '0') > closeAt,
      30_000,
      'a closing heartbeat',
      { intervalMs: 50 },
    );
    const from = Date.parse(hb0!.at);
    const to = Date.parse(hb1!.at);
    const published = hb1!.gauges.published_total! - hb0!.gauges.published_total!;
    const got = new Set<string>();
    for (const c of clients) {
      for (const m of c.messages) {
        if (m.action !== 'post_tweet') continue;
        const t = Date.parse(m.params.tweet.created_at);
        if (t > from && t <= to) got.add(`${m.params.movie_id}:${m.params.tweet.id}`);
      }
    }
    // stop the feeder and the endpoint (their last lines drain to the stream), then let the keeper catch up
    for (const p of [feeder, endpoint]) await killTracked(p);
    await waitFor(
      async () => {
        const groups = (await r.call('XINFO', 'GROUPS', keys.logStream)) as unknown[][];
        const g = groups.find((x) => x[1] === KEEPER_GROUP) ?? [];
        const lag = g[g.indexOf('lag') + 1];
        return Number(g[g.indexOf('pending') + 1]) === 0 && (lag === null || Number(lag) === 0);
      },
      30_000,
      'the keeper to archive everything',
      { intervalMs: 200 },
    ).catch(async (err: Error) => {
      const groups = await r.call('XINFO', 'GROUPS', keys.logStream).catch((e: Error) => e.message);
      const tail = recentOutput(keeper, 30).filter((l) => !l.includes('"summary"'));
      throw new Error(`${err.message}\ngroups: ${JSON.stringify(groups)}\nkeeper:\n${tail.join('\n')}`);
    });
    await sleep(1500); // its last flush
    const written = new Set<string>();
    for (const p of [feeder, endpoint]) {
      for (const l of recentOutput(p, 100_000)) if (l.startsWith('{') && l.includes('"msg"')) written.add(l);
    }
    const archivedSet = new Set<string>();
    for (const l of archivedLines(archive)) {
      // the archived line is the original with `"entry_id":"…",` spliced in first
      const orig = l.replace(/^\{"entry_id":"[^"]*",?/, '{');
      if (written.has(orig)) archivedSet.add(orig);
    }
    const lost = [...written].filter((l) => !archivedSet.has(l));
    return {
      ...out,
      ...(lost.length
        ? { lostMsgs: lost.slice(0, 8).map((l) => (JSON.parse(l) as { msg: string }).msg) }
        : {}),
      published,
      delivered: got.size,
      dropped: published - got.size,
      logWritten: written.size,
      logArchived: archivedSet.size,
      logLost: written.size - archivedSet.size,
    };
  } finally {
    for (const c of clients) c.close();
    r.disconnect();
    for (const p of procs) await killTracked(p).catch(() => {});
    await set.stop();
  }
}

const median = (xs: Array<number | undefined>) => {
  const v = xs.filter((x): x is number => x !== undefined).sort((a, b) => a - b);
  if (v.length === 0) return undefined;
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m] : (v[m - 1]! + v[m]!) / 2;
};

const results: Record<'baseline' | 'failover', Drill[]> = { baseline: [], failover: [] };
for (let i = 0; i < RUNS; i++) {
  for (const kill of process.env.BENCH_ONLY === 'failover' ? [true] : [false, true]) {
    const d = await drill(kill, i * 2 + (kill ? 1 : 0));
    results[kill ? 'failover' : 'baseline'].push(d);
    console.log(JSON.stringify({ run: i + 1, drill: kill ? 'failover' : 'baseline', ...d }));
  }
}
console.log(
  `\n${RUNS} runs, ${CLIENTS} clients, ${RATE} tweets/s; medians\n` +
    '| drill | promoted ms | every role healthy ms | every client a new tweet ms | publications | delivered | dropped | log lines | lost |\n' +
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
);
for (const [name, ds] of Object.entries(results)) {
  const f = (k: Exclude<keyof Drill, 'lostMsgs' | 'notHealthy'>) => median(ds.map((d) => d[k])) ?? '–';
  console.log(
    `| ${name} | ${f('promotedMs')} | ${f('healthyMs')} | ${f('clientsMs')} | ${f('published')} | ${f('delivered')} | ${f('dropped')} | ${f('logWritten')} | ${f('logLost')} |`,
  );
}
await cleanupAll();
process.exit(0);
