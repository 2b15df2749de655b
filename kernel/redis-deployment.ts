// The one way to name a Redis deployment, for every role's --redis / FG_REDIS_URL and God's redis.url: one text,
// three shapes. Parsing only (no I/O); connections are made from the result by protocol/redis-connection.ts.
//
//   redis://[[user]:password@]host[:6379][/db]                       one server (or a managed primary endpoint)
//   rediss://...                                                      the same over TLS
//   redis+sentinel://[[user]:password@]s1[:26379][,s2[:26379]...]/master_name[/db][?options]
//   rediss+sentinel://...                                            TLS to the data nodes and the sentinels
//   redis+cluster://[[user]:password@]seed1[:6379][,seed2...][?options]   (parsed and checked; not supported yet)
//   rediss+cluster://...
//
// The `redis+sentinel` grammar is the one redis-py's ecosystem settled on (Redis-Sentinel-Url, redisvl,
// prefect-redis): sentinels comma-separated (default port 26379), the master (service) name as the first path
// segment, the userinfo authenticating to the data nodes. Sentinel options, as query parameters:
//   sentinel_password=…   AUTH to the sentinels (sentinel's own `requirepass`); none when absent
//   sentinel_username=…   ACL user for the sentinels
//   sentinel_tls=0|1      TLS to the sentinels, when it differs from the data nodes (default: as the scheme)
export interface RedisNode {
  host: string;
  port: number;
}

interface Auth {
  username?: string;
  password?: string;
  /** TLS to the data nodes */
  tls: boolean;
}

export type RedisDeployment =
  | ({ kind: 'single'; url: string; host: string; port: number; db: number } & Auth)
  | ({
      kind: 'sentinel';
      sentinels: RedisNode[];
      masterName: string;
      db: number;
      sentinelTls: boolean;
      sentinelUsername?: string;
      sentinelPassword?: string;
    } & Auth)
  | ({ kind: 'cluster'; seeds: RedisNode[] } & Auth);

export type RedisDeploymentKind = RedisDeployment['kind'];

export const REDIS_URL_SCHEMES = [
  'redis://',
  'rediss://',
  'redis+sentinel://',
  'rediss+sentinel://',
  'redis+cluster://',
  'rediss+cluster://',
] as const;

/** A text that is not a Redis deployment; the message says what is wrong with it (no secret in it). */
export class RedisUrlError extends Error {}

const SENTINEL_PARAMS = new Set(['sentinel_password', 'sentinel_username', 'sentinel_tls']);
const MASTER_NAME = /^[A-Za-z0-9._-]{1,128}$/;

function bool(name: string, v: string): boolean {
  if (/^(1|true|yes|on)$/i.test(v)) return true;
  if (/^(0|false|no|off)$/i.test(v)) return false;
  throw new RedisUrlError(`${name} must be 0 or 1 (got ${JSON.stringify(v)})`);
}

function decode(part: string, what: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new RedisUrlError(`the ${what} is not valid percent-encoding`);
  }
}

/** `host[:port]` or `[v6]:port`, as in a URL's authority. */
function parseNode(text: string, defaultPort: number): RedisNode {
  const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(?::(\d{1,5}))?$/.exec(text);
  if (!m) throw new RedisUrlError(`${JSON.stringify(text)} is not a host[:port]`);
  const port = m[2] === undefined ? defaultPort : Number(m[2]);
  if (port < 1 || port > 65535) throw new RedisUrlError(`port ${m[2]} of ${text} is not in 1-65535`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

function parseDb(seg: string | undefined): number {
  if (seg === undefined || seg === '') return 0;
  if (!/^\d{1,5}$/.test(seg))
    throw new RedisUrlError(`the database must be a number (got ${JSON.stringify(seg)})`);
  return Number(seg);
}

/** Parse a Redis deployment text; throws RedisUrlError saying what is wrong. */
export function parseRedisDeployment(text: string): RedisDeployment {
  const m = /^(redis|rediss)(\+sentinel|\+cluster)?:\/\/(.*)$/is.exec(text.trim());
  if (!m) throw new RedisUrlError(`must start with ${REDIS_URL_SCHEMES.join(', ')}`);
  const tls = m[1]!.toLowerCase() === 'rediss';
  const shape = (m[2] ?? '').toLowerCase();
  let rest = m[3]!;
  if (rest.includes('#')) throw new RedisUrlError('may not hold a #fragment');
  let query = '';
  const q = rest.indexOf('?');
  if (q >= 0) {
    query = rest.slice(q + 1);
    rest = rest.slice(0, q);
  }
  // the userinfo ends at the last @ before the path (a password may hold @)
  const slash = rest.indexOf('/', rest.lastIndexOf('@') + 1);
  const authority = slash >= 0 ? rest.slice(0, slash) : rest;
  const path = slash >= 0 ? rest.slice(slash + 1) : '';
  const at = authority.lastIndexOf('@');
  const userinfo = at >= 0 ? authority.slice(0, at) : '';
  const hosts = at >= 0 ? authority.slice(at + 1) : authority;
  const colon = userinfo.indexOf(':');
  const username = decode(colon >= 0 ? userinfo.slice(0, colon) : userinfo, 'user name') || undefined;
  const password = colon >= 0 ? decode(userinfo.slice(colon + 1), 'password') || undefined : undefined;
  const params = new URLSearchParams(query);
  const auth = { username, password, tls };

  if (!shape) {
    if (hosts.includes(',')) {
      throw new RedisUrlError(
        'names several hosts: use redis+sentinel://s1,s2,s3/master_name for a Sentinel set (or redis+cluster:// for a Cluster)',
      );
    }
    if (!URL.canParse(text.trim())) throw new RedisUrlError('is not a valid URL');
    const node = parseNode(hosts, 6379);
    return { kind: 'single', url: text.trim(), ...node, db: parseDb(path.replace(/\/$/, '')), ...auth };
  }

  const nodes = hosts.split(',').map((h) => h.trim());
  if (nodes.some((h) => h === '')) {
    throw new RedisUrlError(`names no ${shape === '+sentinel' ? 'sentinel' : 'seed node'} (or an empty one)`);
  }
  if (shape === '+cluster') {
    if (path.replace(/\/$/, '') !== '') {
      throw new RedisUrlError('a Cluster has no database or name in the path (only database 0 exists)');
    }
    for (const k of params.keys())
      throw new RedisUrlError(`unknown option ${JSON.stringify(k)} for a Cluster`);
    return { kind: 'cluster', seeds: nodes.map((h) => parseNode(h, 6379)), ...auth };
  }
  const [masterName, dbSeg, ...extra] = path.split('/');
  if (!masterName) {
    throw new RedisUrlError(
      'names no master: put the master name Sentinel monitors after the sentinels (redis+sentinel://s1,s2,s3/mymaster)',
    );
  }
  if (!MASTER_NAME.test(decode(masterName, 'master name'))) {
    throw new RedisUrlError('the master name may only hold letters, digits, dot, dash and underscore');
  }
  if (extra.some((s) => s !== '')) throw new RedisUrlError('has more path than /master_name/db');
  for (const k of params.keys()) {
    if (!SENTINEL_PARAMS.has(k)) {
      throw new RedisUrlError(
        `unknown option ${JSON.stringify(k)} (a Sentinel set takes ${[...SENTINEL_PARAMS].join(', ')})`,
      );
    }
  }
  const st = params.get('sentinel_tls');
  return {
    kind: 'sentinel',
    sentinels: nodes.map((h) => parseNode(h, 26379)),
    masterName: decode(masterName, 'master name'),
    db: parseDb(dbSeg),
    sentinelTls: st === null ? tls : bool('sentinel_tls', st),
    sentinelUsername: params.get('sentinel_username') || undefined,
    sentinelPassword: params.get('sentinel_password') || undefined,
    ...auth,
  };
}

const nodeText = (n: RedisNode) => (n.host.includes(':') ? `[${n.host}]:${n.port}` : `${n.host}:${n.port}`);

/** What a deployment is, for logs and errors: no password in it. */
export function describeRedisDeployment(d: RedisDeployment): string {
  const t = d.tls ? ' (TLS)' : '';
  if (d.kind === 'single') return `Redis at ${nodeText(d)}${d.db ? ` db ${d.db}` : ''}${t}`;
  if (d.kind === 'sentinel') {
    return `Sentinel master "${d.masterName}" via ${d.sentinels.map(nodeText).join(', ')}${t}`;
  }
  return `Redis Cluster seeded by ${d.seeds.map(nodeText).join(', ')}${t}`;
}

export { nodeText as redisNodeText };
