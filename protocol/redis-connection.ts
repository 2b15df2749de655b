// The one factory of Redis connections, for the roles and God alike: a deployment text (kernel/redis-deployment.ts)
// becomes an ioredis client (one server directly; a Sentinel set through its sentinels, following failovers), or
// the current master's address for a connection of one's own (the feeder's raw RESP publisher). The caller gives
// its policy (retries, offline queue, timeouts): roles reconnect forever, God fails fast.
import fs from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { Redis, type RedisOptions } from 'ioredis';
import {
  describeRedisDeployment,
  parseRedisDeployment,
  type RedisDeployment,
  type RedisNode,
  redisNodeText,
} from '../kernel/redis-deployment.ts';

export interface RedisTlsFiles {
  /** CA certificate file (PEM) for the data nodes and the sentinels; default: the system CAs */
  tlsCa?: string;
  /** do not verify certificates (testing only) */
  tlsInsecure?: boolean;
}

/** What is wrong with reaching a deployment: `cluster` (not supported yet), `no-sentinel`, `unknown-master`. */
export class RedisDeploymentError extends Error {
  constructor(
    readonly problem: 'cluster' | 'no-sentinel' | 'unknown-master',
    message: string,
  ) {
    super(message);
  }
}

export function asDeployment(target: string | RedisDeployment): RedisDeployment {
  return typeof target === 'string' ? parseRedisDeployment(target) : target;
}

function clusterUnsupported(d: RedisDeployment): RedisDeploymentError {
  return new RedisDeploymentError(
    'cluster',
    `${describeRedisDeployment(d)}: Redis Cluster is not supported yet (issue 16, item 4); use one server (redis://) or a Sentinel set (redis+sentinel://)`,
  );
}

export function tlsOptions(o: RedisTlsFiles, servername?: string): ConnectionOptions {
  return {
    rejectUnauthorized: !o.tlsInsecure,
    ...(o.tlsCa ? { ca: fs.readFileSync(o.tlsCa) } : {}),
    ...(servername ? { servername } : {}),
  };
}

/**
 * ioredis options for a deployment on top of the caller's policy. A single server keeps its URL (ioredis reads
 * the password and db from it); a Sentinel set gets its sentinels, master name and both TLS settings. No ioredis
 * `failoverDetector`: a failover closes the clients of both servers (REPLICAOF does), and with the detector on,
 * drills left a keeper connection that never came back (ioredis #1362 is of that kind); a connection left on a
 * demoted master gets READONLY and reconnects. Throws RedisDeploymentError for a Cluster.
 */
export function ioredisOptions(
  target: string | RedisDeployment,
  files: RedisTlsFiles,
  policy: RedisOptions,
): { url?: string; options: RedisOptions } {
  const d = asDeployment(target);
  if (d.kind === 'cluster') throw clusterUnsupported(d);
  if (d.kind === 'single') {
    return {
      url: d.url,
      options: { ...policy, ...(d.tls ? { tls: tlsOptions(files, d.host) } : {}) },
    };
  }
  return {
    options: {
      ...policy,
      sentinels: d.sentinels.map((s) => ({ host: s.host, port: s.port })),
      name: d.masterName,
      role: 'master',
      db: d.db,
      username: d.username,
      password: d.password,
      sentinelUsername: d.sentinelUsername,
      sentinelPassword: d.sentinelPassword,
      ...(d.sentinelTls ? { sentinelTLS: tlsOptions(files) } : {}),
      ...(d.tls ? { tls: tlsOptions(files), enableTLSForSentinelMode: true } : {}),
      // a sentinel round that found no master: try them all again soon (a failover takes a few seconds)
      sentinelRetryStrategy: (n: number) => Math.min(2000, 100 * n),
    },
  };
}

/** An ioredis client of the deployment (see ioredisOptions). */
export function createRedis(
  target: string | RedisDeployment,
  files: RedisTlsFiles,
  policy: RedisOptions,
): Redis {
  const { url, options } = ioredisOptions(target, files, policy);
  return url ? new Redis(url, options) : new Redis(options);
}

/** Ask one sentinel where the master is: the address, null when it knows no such master. */
async function askSentinel(
  d: Extract<RedisDeployment, { kind: 'sentinel' }>,
  s: RedisNode,
  files: RedisTlsFiles,
  timeoutMs: number,
): Promise<RedisNode | null> {
  const c = new Redis({
    host: s.host,
    port: s.port,
    username: d.sentinelUsername,
    password: d.sentinelPassword,
    ...(d.sentinelTls ? { tls: tlsOptions(files) } : {}),
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    connectionName: 'master-lookup',
  });
  // the socket's own error (ECONNREFUSED, a TLS failure) says more than ioredis' "Connection is closed."
  let socketError: Error | undefined;
  c.on('error', (err) => {
    socketError = err;
  });
  try {
    await c.connect();
    const r = (await c.call('SENTINEL', 'get-master-addr-by-name', d.masterName)) as [string, string] | null;
    return Array.isArray(r) && r.length === 2 ? { host: r[0], port: Number(r[1]) } : null;
  } catch (err) {
    throw socketError ?? err;
  } finally {
    c.disconnect();
  }
}

/**
 * The current master of a deployment: a single server's own address; for a Sentinel set, the first sentinel's
 * answer to `SENTINEL get-master-addr-by-name`, asking them in turn. Throws RedisDeploymentError naming the
 * problem: no sentinel answered (each one's error), or the sentinels know no master of that name.
 */
export async function findMaster(
  target: string | RedisDeployment,
  files: RedisTlsFiles = {},
  timeoutMs = 2000,
): Promise<RedisNode> {
  const d = asDeployment(target);
  if (d.kind === 'cluster') throw clusterUnsupported(d);
  if (d.kind === 'single') return { host: d.host, port: d.port };
  const failures: string[] = [];
  let answered = 0;
  for (const s of d.sentinels) {
    try {
      const m = await askSentinel(d, s, files, timeoutMs);
      if (m) return m;
      answered++;
    } catch (err) {
      failures.push(`${redisNodeText(s)}: ${(err as Error).message}`);
    }
  }
  if (answered > 0) {
    return Promise.reject(
      new RedisDeploymentError(
        'unknown-master',
        `no sentinel knows a master named "${d.masterName}" (${answered} of ${d.sentinels.length} answered${failures.length ? `; ${failures.join('; ')}` : ''}); check the name after the sentinels in the URL against \`SENTINEL masters\``,
      ),
    );
  }
  throw new RedisDeploymentError(
    'no-sentinel',
    `no sentinel of master "${d.masterName}" answered (${failures.join('; ')})`,
  );
}
