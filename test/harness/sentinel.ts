// A Sentinel set on loopback: a primary, a replica and three redis-sentinel processes, all on free ports, all
// tracked (stopped by stop(), by the file's cleanupAll() and by the watchdog when the owner dies). Sentinels
// decide fast (down after 1 s) so a failover drill is over in a few seconds.
import type { ChildProcess } from 'node:child_process';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './ports.ts';
import {
  isRunning,
  killTracked,
  makeTempDir,
  recentOutput,
  registerCleanup,
  removeTempDir,
  spawnTracked,
  waitFor,
} from './procs.ts';
import { pingRedis, type RedisServer, startRedis } from './redis.ts';

export interface SentinelProcess {
  port: number;
  kill(): Promise<void>;
  start(): Promise<void>;
  running(): boolean;
  logs(): string[];
}

export interface SentinelSet {
  masterName: string;
  /** the first primary and its replica (after a failover the replica is the master) */
  primary: RedisServer;
  replica: RedisServer;
  sentinels: SentinelProcess[];
  /** redis+sentinel://127.0.0.1:S1,127.0.0.1:S2,127.0.0.1:S3/<masterName> */
  url: string;
  /** the master's port as the sentinels say it */
  masterPort(): Promise<number>;
  /** SIGKILL the current master (the first primary, or the replica after a failover); returns its port */
  killMaster(): Promise<number>;
  /** resolves with the new master's port once the sentinels name another master than `oldPort` and it takes writes */
  waitPromoted(oldPort: number, timeoutMs?: number): Promise<number>;
  stop(): Promise<void>;
}

export function sentinelAvailable(): boolean {
  const r = spawnSync('redis-sentinel', ['--version'], { encoding: 'utf8' });
  return !r.error && r.status === 0;
}

async function ask<T>(port: number, ...args: string[]): Promise<T> {
  const c = new Redis({
    host: '127.0.0.1',
    port,
    lazyConnect: true,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
  });
  c.on('error', () => {});
  try {
    await c.connect();
    return (await c.call(args[0]!, ...args.slice(1))) as T;
  } finally {
    c.disconnect();
  }
}

async function startSentinel(
  dir: string,
  masterName: string,
  masterPort: number,
  i: number,
): Promise<SentinelProcess> {
  const port = await freePort();
  const conf = path.join(dir, `sentinel-${i}.conf`);
  // sentinel rewrites its config file (known peers, epochs): it lives in the set's temp dir
  fs.writeFileSync(
    conf,
    [
      `port ${port}`,
      'bind 127.0.0.1',
      'daemonize no',
      'protected-mode no',
      `dir ${dir}`,
      'logfile ""',
      `sentinel monitor ${masterName} 127.0.0.1 ${masterPort} 2`,
      `sentinel down-after-milliseconds ${masterName} 1000`,
      `sentinel failover-timeout ${masterName} 5000`,
      `sentinel parallel-syncs ${masterName} 1`,
      '',
    ].join('\n'),
  );
  let child: ChildProcess | undefined;
  const launch = async () => {
    const c = spawnTracked('redis-sentinel', [conf], { name: `sentinel:${port}`, cwd: dir });
    child = c;
    await waitFor(
      async () => {
        if (!isRunning(c)) throw new Error(`redis-sentinel exited:\n${recentOutput(c, 20).join('\n')}`);
        return pingRedis('127.0.0.1', port);
      },
      10_000,
      `redis-sentinel on port ${port}`,
    );
  };
  await launch();
  return {
    port,
    async kill() {
      const c = child;
      child = undefined;
      if (c) await killTracked(c, { signal: 'SIGKILL' });
    },
    async start() {
      if (child && isRunning(child)) return;
      await launch();
    },
    running: () => !!child && isRunning(child),
    logs: () => (child ? recentOutput(child, 50) : []),
  };
}

/** Start the set and wait until the sentinels know the replica and each other (a failover can happen then). */
export async function startSentinelSet(o: { masterName?: string } = {}): Promise<SentinelSet> {
  const masterName = o.masterName ?? 'fgmaster';
  const dir = makeTempDir('sentinel');
  const started: Array<{ stop(): Promise<void> }> = [];
  const sentinels: SentinelProcess[] = [];
  const stopAll = async () => {
    for (const s of sentinels) await s.kill();
    for (const r of started.reverse()) await r.stop();
    removeTempDir(dir);
  };
  try {
    // diskless full sync without the default 5 s wait for more replicas (either may be the master later)
    const fast = ['--repl-diskless-sync-delay', '0'];
    const primary = await startRedis({ args: fast });
    started.push(primary);
    const replica = await startRedis({ args: [...fast, '--replicaof', '127.0.0.1', String(primary.port)] });
    started.push(replica);
    await waitFor(
      async () => /master_link_status:up/.test(await ask<string>(replica.port, 'INFO', 'replication')),
      10_000,
      'the replica to sync with the primary',
    );
    for (let i = 0; i < 3; i++) sentinels.push(await startSentinel(dir, masterName, primary.port, i));
    await waitFor(
      async () => {
        for (const s of sentinels) {
          const peers = await ask<unknown[]>(s.port, 'SENTINEL', 'SENTINELS', masterName);
          const replicas = await ask<unknown[]>(s.port, 'SENTINEL', 'REPLICAS', masterName);
          if (peers.length < 2 || replicas.length < 1) return false;
        }
        return true;
      },
      20_000,
      'the sentinels to find each other and the replica',
      { intervalMs: 200 },
    );
    const masterPort = async () => {
      for (const s of sentinels) {
        if (!s.running()) continue;
        const r = await ask<[string, string] | null>(
          s.port,
          'SENTINEL',
          'GET-MASTER-ADDR-BY-NAME',
          masterName,
        ).catch(() => null);
        if (r) return Number(r[1]);
      }
      throw new Error('no sentinel answered');
    };
    const set: SentinelSet = {
      masterName,
      primary,
      replica,
      sentinels,
      url: `redis+sentinel://${sentinels.map((s) => `127.0.0.1:${s.port}`).join(',')}/${masterName}`,
      masterPort,
      async killMaster() {
        const port = await masterPort();
        await (port === primary.port ? primary : replica).kill();
        return port;
      },
      async waitPromoted(oldPort, timeoutMs = 20_000) {
        let now = oldPort;
        await waitFor(
          async () => {
            now = await masterPort();
            return now !== oldPort && /role:master/.test(await ask<string>(now, 'INFO', 'replication'));
          },
          timeoutMs,
          `the sentinels to promote a new master (was ${oldPort})`,
          { intervalMs: 100 },
        );
        return now;
      },
      stop: stopAll,
    };
    const unregister = registerCleanup(`sentinel-set:${dir}`, stopAll);
    set.stop = async () => {
      unregister();
      await stopAll();
    };
    return set;
  } catch (err) {
    await stopAll();
    throw err;
  }
}
