// One end-to-end run of the feeder core into a real redis-server: JSON lines → parse → match → count →
// publish, until Redis acknowledged every publication. Used in the bench process (tsx) and in a child built
// with esbuild like the deployed role bundle (e2e-child.ts), since the bundle runs the same code faster.
import fs from 'node:fs';
import { Redis } from 'ioredis';
import pino from 'pino';
import { type CatalogMovie, redisContract } from '../../protocol/redis-contract.ts';
import { Feeder } from '../../roles/feeder/feeder.ts';
import type { PublishMode } from '../../roles/feeder/publisher.ts';
import { RespConnection } from '../../roles/feeder/resp.ts';

export interface E2EResult {
  /** tweets per wall second */
  rate: number;
  /** tweets per CPU second of the feeder (this process) */
  feederCpu: number;
  /** tweets per CPU second of redis-server */
  redisCpu: number;
  published: number;
  /** Redis commands per publication (from INFO commandstats) */
  commandsPerPub: number;
}

/** CPU seconds this process used (user + system): the machine is shared, so rates are per CPU second. */
export const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

/** CPU seconds a process has used so far (Linux /proc), for redis-server. */
export function cpuOf(pid: number | undefined): number {
  try {
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

async function commandCount(r: Redis): Promise<number> {
  const info = await r.info('commandstats');
  let n = 0;
  for (const m of info.matchAll(/calls=(\d+)/g)) n += Number(m[1]);
  return n;
}

export async function endToEnd(o: {
  url: string;
  redisPid?: number;
  lines: string[];
  catalog: CatalogMovie[];
  prefix: string;
  mode: PublishMode;
}): Promise<E2EResult> {
  const { lines } = o;
  const keys = redisContract(o.prefix);
  const cmd = new Redis(o.url, { maxRetriesPerRequest: null });
  const pub =
    o.mode === 'resp' ? undefined : new Redis(o.url, { enableOfflineQueue: false, maxRetriesPerRequest: 0 });
  const resp = o.mode === 'resp' ? new RespConnection(o.url, { name: 'bench' }) : undefined;
  await Promise.all([cmd.ping(), new Promise((r) => (pub ?? resp!).once('ready', r))]);
  const feeder = new Feeder({
    redis: cmd,
    publishRedis: pub,
    publishResp: resp,
    keys,
    log: pino({ level: 'silent' }),
    catalog: o.catalog,
    maxBuffer: 200_000,
    batch: 2000,
    publishMode: o.mode,
  });
  await feeder.start();
  const commands0 = await commandCount(cmd);
  const t = performance.now();
  const c = cpu();
  const rc = cpuOf(o.redisPid);
  for (let i = 0; i < lines.length; i += 2000) {
    const end = Math.min(lines.length, i + 2000);
    for (let j = i; j < end; j++) feeder.ingestLine(lines[j]);
    await feeder.ready();
    await new Promise((r) => setImmediate(r));
  }
  await feeder.publisher.drain(120_000);
  const elapsed = (performance.now() - t) / 1000;
  const feederCpu = lines.length / (cpu() - c);
  const redisCpu = lines.length / (cpuOf(o.redisPid) - rc);
  const published = feeder.publisher.published;
  // the INFO call itself and the ranking writes are a handful of commands; negligible next to 100k+
  const commandsPerPub = ((await commandCount(cmd)) - commands0) / published;
  await feeder.stop();
  await cmd.flushdb();
  cmd.disconnect();
  pub?.disconnect();
  resp?.close();
  return { rate: lines.length / elapsed, feederCpu, redisCpu, published, commandsPerPub };
}
