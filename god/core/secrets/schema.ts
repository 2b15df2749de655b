// The `secrets:` block of god.config.yaml: which secrets exist, where each comes from and which roles get it
// under which environment variable. Never a value: those are resolved at deploy time (resolve.ts).
import { z } from 'zod';
import { RoleSchema } from '../../../protocol/redis-contract.ts';

/** a secret's name: its key in `.god/secrets`, GOD_SECRET_<NAME> in God's environment */
export const SECRET_NAME = /^[a-z][a-z0-9_]{0,63}$/;

/** Variables God sets itself for every process: a secret cannot take their place. */
export const RESERVED_ENV = new Set([
  'FG_ID',
  'FG_RELEASE',
  'FG_HOST',
  'FG_PREFIX',
  'HOME',
  'USER',
  'LOGNAME',
]);

/** `ssm:/path/name` (Parameter Store, decrypted) or `secretsmanager:name-or-arn` */
export const AwsRefSchema = z
  .string()
  .regex(
    /^(ssm:\/[A-Za-z0-9_.\-/]+|secretsmanager:[A-Za-z0-9/_+=.@:-]+)$/,
    'must be ssm:/path/to/parameter or secretsmanager:NAME',
  );

export const SecretSchema = z
  .object({
    /** the variable the roles get it as, e.g. TWITTER_BEARER_TOKEN */
    env: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name (letters, digits, _)')
      .refine((n) => !RESERVED_ENV.has(n), 'is set by God for every process; pick another variable'),
    /** the roles whose processes get it (default: all) */
    roles: z.array(RoleSchema).min(1, 'must list at least one role').optional(),
    /** AWS, used when neither God's environment nor .god/secrets has it */
    from: AwsRefSchema.optional(),
  })
  .strict();

export const SecretsSchema = z
  .record(z.string().regex(SECRET_NAME, 'secret names are lowercase letters, digits and _'), SecretSchema)
  .default({})
  .superRefine((secrets, ctx) => {
    // two secrets in one variable of one role: which one wins would depend on the order of the file
    const seen = new Map<string, string>();
    for (const [name, s] of Object.entries(secrets)) {
      for (const role of s.roles ?? RoleSchema.options) {
        const key = `${role} ${s.env}`;
        const other = seen.get(key);
        if (other) {
          ctx.addIssue({
            code: 'custom',
            path: [name, 'env'],
            message: `${s.env} is already secret ${other}'s variable for the ${role} role`,
          });
        } else seen.set(key, name);
      }
    }
  });

export type SecretConfig = z.output<typeof SecretSchema>;
export type SecretsConfig = z.output<typeof SecretsSchema>;

/** The variable of God's environment that holds secret `name`. */
export const godEnvName = (name: string) => `GOD_SECRET_${name.toUpperCase()}`;
