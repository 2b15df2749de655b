// The environment of one role process, built from the config: what the local supervisor, systemd units
// and the remote supervisor all pass to a role (every role option is an FG_* variable, named by the role's own
// option spec: roles/options.ts).
import path from 'node:path';
import { z } from 'zod';
import type { Role } from '../../../protocol/redis-contract.ts';
import { UserError } from '../../../kernel/errors.ts';
import type { OptionsSpec } from '../../../kernel/options.ts';
import { durationMs } from '../../../kernel/units.ts';
import { ROLE_OPTIONS } from '../../../roles/options.ts';
import { EndpointOptionsSchema, FeederOptionsSchema, type GodConfig, KeeperOptionsSchema } from './schema.ts';

/**
 * Config options (`roles.<role>.options`, dotted when nested) whose role option is not their camelCase
 * (`max_per_ip` is the endpoint's `maxPerIp`, `tls.cert` its `tlsCert`): the keeper's alerts block.
 */
const OPTION_OF_KEY: { [R in Role]?: Record<string, keyof (typeof ROLE_OPTIONS)[R]> } = {
  keeper: {
    'alerts.sms': 'alertSms',
    'alerts.email': 'alertEmail',
    'alerts.email_from': 'emailFrom',
    'alerts.silence': 'silence',
  },
};

const camelCase = (key: string) => key.replace(/[._]([a-z])/g, (_, letter: string) => letter.toUpperCase());

/** The dotted keys of the leaves of a config options schema: `port`, `tls.cert`, `tls.key`, ... */
function configKeys(schema: z.core.$ZodType, prefix = ''): string[] {
  const inner = schema instanceof z.ZodOptional || schema instanceof z.ZodDefault ? schema.unwrap() : schema;
  if (!(inner instanceof z.ZodObject)) return [prefix];
  return Object.entries(inner.shape).flatMap(([key, field]) =>
    configKeys(field, prefix ? `${prefix}.${key}` : key),
  );
}

/** Config option → the role option it sets → that option's env var, from the role's own spec. */
function optionEnv(role: Role, schema: z.core.$ZodType): Record<string, string> {
  const specs: OptionsSpec = ROLE_OPTIONS[role];
  const aliases: Record<string, PropertyKey> = OPTION_OF_KEY[role] ?? {};
  const out: Record<string, string> = {};
  for (const key of configKeys(schema)) {
    const option = specs[String(aliases[key] ?? camelCase(key))];
    if (!option) throw new Error(`roles.${role}.options.${key} matches no option of the ${role} role`);
    out[key] = option.env;
  }
  return out;
}

/** Config option (dotted, under roles.<role>.options) → the role's environment variable. */
export const ROLE_OPTION_ENV: Record<Role, Record<string, string>> = {
  feeder: optionEnv('feeder', FeederOptionsSchema),
  endpoint: optionEnv('endpoint', EndpointOptionsSchema),
  keeper: optionEnv('keeper', KeeperOptionsSchema),
};

/** Options holding file paths: resolved against the config's folder when running locally. */
const PATH_OPTIONS = new Set(['catalog', 'replay', 'tls.cert', 'tls.key', 'spool_dir']);

/** Process `index`'s admin address: the base port + index (port 0 stays 0: each picks a free one). */
function adminListenOf(text: string, index: number): string {
  const at = text.lastIndexOf(':');
  const port = Number(text.slice(at + 1));
  return port === 0 ? text : `${text.slice(0, at)}:${port + index}`;
}

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

export function roleEnv(config: GodConfig, role: Role, options: RoleEnvOptions): Record<string, string> {
  const entry = config.roles[role];
  const env: Record<string, string> = {
    FG_REDIS_URL: options.redisUrl,
    FG_PREFIX: config.redis.prefix,
    FG_ID: options.id,
  };
  if (config.redis.tls_ca) env.FG_REDIS_TLS_CA = config.redis.tls_ca;
  const release = options.release ?? config.release;
  if (release) env.FG_RELEASE = release;
  if (options.hostName) env.FG_HOST = options.hostName;
  // every role's summary line is its sign of life for the keeper's silence alert: log it at half the silence
  // (a role's own summary_interval option, applied below, wins)
  const silence = (config.roles.keeper.options as { alerts?: { silence?: string } }).alerts?.silence;
  const silenceMs = silence === undefined ? undefined : durationMs.safeParse(silence).data;
  if (silenceMs) env.FG_SUMMARY_INTERVAL = `${Math.max(100, Math.floor(silenceMs / 2))}ms`;
  const names = ROLE_OPTION_ENV[role];
  for (const [key, value] of flatten(entry.options as Record<string, unknown>)) {
    const name = names[key];
    if (!name) continue;
    let text = String(value);
    if (key === 'port' && options.index) text = String(Number(value) + options.index);
    if (key === 'admin_listen' && options.index) text = adminListenOf(text, options.index);
    if (PATH_OPTIONS.has(key) && options.baseDir && !path.isAbsolute(text))
      text = path.resolve(options.baseDir, text);
    env[name] = text;
  }
  Object.assign(env, entry.env, options.extra ?? {});
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
  options: RoleEnvOptions & { from?: NodeJS.ProcessEnv },
): Record<string, string> {
  return { ...inheritedEnv(role, options.from), ...roleEnv(config, role, options) };
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
