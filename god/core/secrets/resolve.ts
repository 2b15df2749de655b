// Secret values, resolved when a deploy (or `god up`, `god secrets push`) writes process specs: God's
// environment (GOD_SECRET_<NAME>), then `.god/secrets` next to the config, then the secret's `from:` in AWS.
// The values live in memory until they go into the hosts' 0600 env files; nothing here prints or emits one.
import { UserError } from '../../../kernel/errors.ts';
import { type Role, RoleSchema } from '../../../protocol/redis-contract.ts';
import type { GodConfig } from '../config/schema.ts';
import { type AwsClients, awsClients, fetchAwsSecret } from './aws.ts';
import { readSecretsFile, SECRETS_FILE } from './file.ts';
import { godEnvName } from './schema.ts';

export type SecretSource = 'env' | 'file' | 'ssm' | 'secretsmanager' | 'missing';

/** A secret as `god secrets list` shows it: never its value. */
export interface SecretInfo {
  name: string;
  /** the variable the roles get */
  env: string;
  roles: Role[];
  /** where its value comes from now (for AWS: where it would be read; the list does not call AWS) */
  source: SecretSource;
  /** GOD_SECRET_<NAME>, .god/secrets, ssm:/…, secretsmanager:… */
  ref: string;
}

export interface ResolvedSecret extends Omit<SecretInfo, 'source'> {
  source: Exclude<SecretSource, 'missing'>;
  value: string;
}

export interface SecretsContext {
  config: GodConfig;
  /** the config's folder: `.god/secrets` is there */
  baseDir: string;
  env: NodeJS.ProcessEnv;
  clients?: AwsClients;
}

/** Where each secret of the config comes from, without reading AWS (the file is read, for its names). */
export function describeSecrets(c: SecretsContext): SecretInfo[] {
  const entries = Object.entries(c.config.secrets ?? {});
  if (entries.length === 0) return [];
  const file = readSecretsFile(c.baseDir);
  return entries.map(([name, s]) => {
    const base = { name, env: s.env, roles: s.roles ?? [...RoleSchema.options] };
    const envName = godEnvName(name);
    if (c.env[envName] !== undefined) return { ...base, source: 'env', ref: envName };
    if (file.has(name)) return { ...base, source: 'file', ref: SECRETS_FILE };
    if (s.from) return { ...base, source: s.from.startsWith('ssm:') ? 'ssm' : 'secretsmanager', ref: s.from };
    return { ...base, source: 'missing', ref: '' };
  });
}

/**
 * A value a host's env file can carry: one line, no NUL, no "%" (the agent's env-file syntax refuses them).
 * The error names the secret and where it came from, never the value.
 */
function checkValue(s: SecretInfo, value: string): void {
  const bad = /[\n\r]/.test(value)
    ? 'a line break'
    : value.includes('\0')
      ? 'a NUL byte'
      : value.includes('%')
        ? 'a "%"'
        : '';
  if (!bad) return;
  throw new UserError(
    `secret ${s.name} (from ${s.ref}) contains ${bad}, which the hosts' env files cannot carry`,
    {
      code: 'GOD_SECRET_VALUE',
      hint: `Change the value of ${s.name} at ${s.ref} to one line without ${bad === 'a "%"' ? '"%"' : 'it'} (a PEM key: base64 it into one line).`,
    },
  );
}

/** Every secret's value; a missing one fails the whole resolution, naming all that are missing. */
export async function resolveSecrets(c: SecretsContext): Promise<ResolvedSecret[]> {
  const infos = describeSecrets(c);
  if (infos.length === 0) return [];
  const missing = infos.filter((s) => s.source === 'missing');
  if (missing.length) {
    const names = missing.map((s) => s.name);
    throw new UserError(`no value for secret${names.length > 1 ? 's' : ''} ${names.join(', ')}`, {
      code: 'GOD_SECRET_MISSING',
      hint: `Set ${names.map(godEnvName).join(', ')} in God's environment, or \`god secrets set ${names[0]}\` (reads the value from stdin into ${SECRETS_FILE}), or give secrets.${names[0]}.from: ssm:/… or secretsmanager:….`,
    });
  }
  const file = infos.some((s) => s.source === 'file')
    ? readSecretsFile(c.baseDir)
    : new Map<string, string>();
  const clients = c.clients ?? awsClients(c.config.ec2?.region);
  const out: ResolvedSecret[] = [];
  for (const s of infos) {
    const value =
      s.source === 'env'
        ? c.env[s.ref]!
        : s.source === 'file'
          ? file.get(s.name)!
          : await fetchAwsSecret(clients, s.name, s.ref);
    checkValue(s, value);
    // missing ones were refused above
    out.push({ ...s, source: s.source as ResolvedSecret['source'], value });
  }
  return out;
}

/** The secret variables of one process of `role`: what goes into its 0600 env file on the host. */
export function secretEnvOf(secrets: ResolvedSecret[], role: Role): Record<string, string> | undefined {
  const mine = secrets.filter((s) => s.roles.includes(role));
  if (mine.length === 0) return undefined;
  return Object.fromEntries(mine.map((s) => [s.env, s.value]));
}

/** The roles at least one secret goes to (what `god secrets push` restarts). */
export function rolesUsingSecrets(secrets: SecretInfo[]): Role[] {
  return RoleSchema.options.filter((r) => secrets.some((s) => s.roles.includes(r)));
}
