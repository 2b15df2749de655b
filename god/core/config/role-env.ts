// The environment of one role process, built from the config: what the local supervisor, systemd units
// and the remote supervisor all pass to a role (every role option is an FG_* variable).
import path from 'node:path';
import type { Role } from '../../../protocol/redis-contract.ts';
import { durationMs } from '../../../roles/runtime/config.ts';
import type { GodConfig } from './schema.ts';

/** Config option (dotted, under roles.<role>.options) → the role's environment variable. */
export const ROLE_OPTION_ENV: Record<Role, Record<string, string>> = {
  feeder: {
    source: 'FG_SOURCE',
    catalog: 'FG_CATALOG',
    rate: 'FG_SYNTHETIC_RATE',
    replay: 'FG_REPLAY_FILE',
    speed: 'FG_REPLAY_SPEED',
    loop: 'FG_REPLAY_LOOP',
  },
  endpoint: {
    port: 'FG_ENDPOINT_PORT',
    host: 'FG_ENDPOINT_HOST',
    public_host: 'FG_ENDPOINT_PUBLIC_HOST',
    'tls.cert': 'FG_ENDPOINT_TLS_CERT',
    'tls.key': 'FG_ENDPOINT_TLS_KEY',
    max_clients: 'FG_ENDPOINT_MAX_CLIENTS',
    soft_limit: 'FG_ENDPOINT_SOFT_LIMIT',
  },
  keeper: {
    archive: 'FG_KEEPER_ARCHIVE',
    'alerts.sms': 'FG_KEEPER_ALERT_SMS',
    'alerts.email': 'FG_KEEPER_ALERT_EMAIL',
    'alerts.email_from': 'FG_KEEPER_EMAIL_FROM',
    'alerts.silence': 'FG_KEEPER_SILENCE',
    flush: 'FG_KEEPER_FLUSH',
  },
};

/** Options holding file paths: resolved against the config's folder when running locally. */
const PATH_OPTIONS = new Set(['catalog', 'replay', 'tls.cert', 'tls.key']);

function flatten(obj: Record<string, unknown>, prefix = ''): Array<[string, unknown]> {
  const out: Array<[string, unknown]> = [];
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v && typeof v === 'object' && !Array.isArray(v))
      out.push(...flatten(v as Record<string, unknown>, key));
    else if (v !== undefined) out.push([key, v]);
  }
  return out;
}

export interface RoleEnvOptions {
  /** FG_ID */
  id: string;
  /** position of this process among the role's processes (endpoint ports are port + index) */
  index?: number;
  redisUrl: string;
  release?: string;
  /** FG_HOST: host name in heartbeats and logs */
  hostName?: string;
  /** resolve relative file options against this folder (local provider) */
  baseDir?: string;
  /** overrides after the config (e.g. the port the supervisor picked) */
  extra?: Record<string, string>;
}

export function roleEnv(config: GodConfig, role: Role, o: RoleEnvOptions): Record<string, string> {
  const entry = config.roles[role];
  const env: Record<string, string> = {
    FG_REDIS_URL: o.redisUrl,
    FG_PREFIX: config.redis.prefix,
    FG_ID: o.id,
  };
  if (config.redis.tls_ca) env.FG_REDIS_TLS_CA = config.redis.tls_ca;
  const release = o.release ?? config.release;
  if (release) env.FG_RELEASE = release;
  if (o.hostName) env.FG_HOST = o.hostName;
  // every role's summary line is its sign of life for the keeper's silence alert: log it at half the silence
  const silence = (config.roles.keeper.options as { alerts?: { silence?: string } }).alerts?.silence;
  const silenceMs = silence === undefined ? undefined : durationMs.safeParse(silence).data;
  if (silenceMs) env.FG_SUMMARY_INTERVAL = `${Math.max(100, Math.floor(silenceMs / 2))}ms`;
  const names = ROLE_OPTION_ENV[role];
  for (const [key, value] of flatten(entry.options as Record<string, unknown>)) {
    const name = names[key];
    if (!name) continue;
    let v = String(value);
    if (key === 'port' && o.index) v = String(Number(value) + o.index);
    if (PATH_OPTIONS.has(key) && o.baseDir && !path.isAbsolute(v)) v = path.resolve(o.baseDir, v);
    env[name] = v;
  }
  Object.assign(env, entry.env, o.extra ?? {});
  return env;
}
