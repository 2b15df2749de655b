// The environment of one role process, built from the config: what the local supervisor, systemd units
// and the remote supervisor all pass to a role (every role option is an FG_* variable).
import path from 'node:path';
import type { Role } from '../../../protocol/redis-contract.ts';
import { UserError } from '../../../kernel/errors.ts';
import { durationMs } from '../../../kernel/units.ts';
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
    summary_interval: 'FG_SUMMARY_INTERVAL',
  },
  endpoint: {
    port: 'FG_ENDPOINT_PORT',
    host: 'FG_ENDPOINT_HOST',
    public_host: 'FG_ENDPOINT_PUBLIC_HOST',
    'tls.cert': 'FG_ENDPOINT_TLS_CERT',
    'tls.key': 'FG_ENDPOINT_TLS_KEY',
    max_clients: 'FG_ENDPOINT_MAX_CLIENTS',
    soft_limit: 'FG_ENDPOINT_SOFT_LIMIT',
    max_per_ip: 'FG_ENDPOINT_MAX_PER_IP',
    connect_timeout: 'FG_ENDPOINT_CONNECT_TIMEOUT',
    summary_interval: 'FG_SUMMARY_INTERVAL',
  },
  keeper: {
    archive: 'FG_KEEPER_ARCHIVE',
    'alerts.sms': 'FG_KEEPER_ALERT_SMS',
    'alerts.email': 'FG_KEEPER_ALERT_EMAIL',
    'alerts.email_from': 'FG_KEEPER_EMAIL_FROM',
    'alerts.silence': 'FG_KEEPER_SILENCE',
    flush: 'FG_KEEPER_FLUSH',
    spool_dir: 'FG_KEEPER_SPOOL_DIR',
    exception_max_emails: 'FG_KEEPER_EXCEPTION_MAX_EMAILS',
    archive_alert_after: 'FG_KEEPER_ARCHIVE_ALERT_AFTER',
    summary_interval: 'FG_SUMMARY_INTERVAL',
  },
};

/** Options holding file paths: resolved against the config's folder when running locally. */
const PATH_OPTIONS = new Set(['catalog', 'replay', 'tls.cert', 'tls.key', 'spool_dir']);

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
  // (a role's own summary_interval option, applied below, wins)
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

/**
 * What a local role process inherits from God's own environment. Not everything: God's shell may hold AWS
 * keys, SSH_AUTH_SOCK (access to every host God deploys to), cloud tokens — and the endpoint faces the
 * internet. Each role gets the basics (PATH, HOME, user, temp dir, locale, time zone, CA bundle), the FG_*
 * options that are its own, and the credentials of the services it calls:
 *   - keeper: AWS_* (S3 archive, SNS/SES alerts);
 *   - feeder: TWITTER_BEARER_TOKEN (the Twitter source).
 * NODE_OPTIONS is NOT passed: it can preload code (--require/--import) or open a debugger port (--inspect) in
 * every role; a role that needs Node flags gets them from its config (roles.<role>.env).
 */
const BASE_ENV = new Set(['PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'TMPDIR', 'TZ', 'LANG', 'LANGUAGE']);
const BASE_ENV_PREFIX = ['LC_'];
/** CA bundles: paths, not secrets; needed to reach a Redis or S3 behind a private CA */
const CA_ENV = new Set(['NODE_EXTRA_CA_CERTS', 'SSL_CERT_FILE', 'SSL_CERT_DIR']);
const ROLE_CREDENTIALS: Record<Role, (name: string) => boolean> = {
  feeder: (n) => n === 'TWITTER_BEARER_TOKEN',
  endpoint: () => false,
  keeper: (n) => n.startsWith('AWS_'),
};
/** FG_* names that belong to one role only; the rest (FG_LOG_LEVEL, FG_STOP_TIMEOUT, ...) are common or feeder's */
const ROLE_FG_PREFIX: Partial<Record<Role, string>> = { endpoint: 'FG_ENDPOINT_', keeper: 'FG_KEEPER_' };

function fgNameFor(role: Role, name: string): boolean {
  if (!name.startsWith('FG_')) return false;
  const own = ROLE_FG_PREFIX[role];
  if (own && name.startsWith(own)) return true;
  return !Object.values(ROLE_FG_PREFIX).some((p) => name.startsWith(p!));
}

export function inheritedEnv(role: Role, from: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(from)) {
    if (value === undefined) continue;
    if (
      BASE_ENV.has(name) ||
      CA_ENV.has(name) ||
      BASE_ENV_PREFIX.some((p) => name.startsWith(p)) ||
      ROLE_CREDENTIALS[role](name) ||
      fgNameFor(role, name)
    ) {
      out[name] = value;
    }
  }
  return out;
}

/** The whole environment of a local role process: what it inherits, then its options from the config. */
export function roleProcessEnv(
  config: GodConfig,
  role: Role,
  o: RoleEnvOptions & { from?: NodeJS.ProcessEnv },
): Record<string, string> {
  return { ...inheritedEnv(role, o.from), ...roleEnv(config, role, o) };
}

/**
 * A remote process's environment goes into a systemd EnvironmentFile= (or the supervisor's spec): a value with
 * a newline would add assignments (or unit directives), NUL cannot be passed, `%` is a unit specifier. Refused
 * here, before anything is uploaded, naming the key and never the value (it may be a secret).
 */
export function checkProcessEnv(env: Record<string, string>, id: string): void {
  for (const [k, v] of Object.entries(env)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) {
      throw new UserError(`${id}: ${JSON.stringify(k)} is not a valid environment variable name`, {
        code: 'GOD_ENV_NAME',
        hint: 'Use letters, digits and _ (not starting with a digit) in roles.<role>.env.',
      });
    }
    const bad = /[\n\r]/.test(v)
      ? 'a newline'
      : v.includes('\0')
        ? 'a NUL byte'
        : v.includes('%')
          ? 'a "%"'
          : '';
    if (bad) {
      throw new UserError(
        `${id}: the value of ${k} contains ${bad}, which a systemd unit cannot carry safely`,
        {
          code: 'GOD_ENV_VALUE',
          hint: `Remove the ${bad === 'a "%"' ? '"%"' : 'line break'} from ${k} (in the config, its roles.<role>.options/env entry, or redis.url); a password with "%" needs changing, not URL-escaping.`,
        },
      );
    }
  }
}
