// Secrets of a remote fleet: the config's `secrets:` block (schema.ts), their values from God's environment,
// `.god/secrets` (file.ts) or AWS (aws.ts), resolved at deploy time (resolve.ts) into the hosts' 0600 env files.
export { SECRETS_FILE, secretsFileOf, writeSecret } from './file.ts';
export {
  describeSecrets,
  type ResolvedSecret,
  resolveSecrets,
  rolesUsingSecrets,
  type SecretInfo,
  type SecretSource,
  type SecretsContext,
  secretEnvOf,
} from './resolve.ts';
export { godEnvName, SECRET_NAME } from './schema.ts';
export { attachSecrets } from './hosts.ts';
export { ADMIN_TOKEN_ENV, type AdminToken, adminTokenOf } from './admin-token.ts';
