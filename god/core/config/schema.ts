// The god.config.yaml schema: one zod schema, the types derived from it are what every God service reads.
import { z } from 'zod';
import { ProviderKindSchema } from '../../../kernel/providers.ts';
import { redisUrl } from '../../../kernel/redis-url.ts';
import { durationText } from '../../../kernel/units.ts';
import { DEFAULT_PREFIX, type Role, RoleSchema } from '../../../protocol/redis-contract.ts';

export const ROLES: readonly Role[] = RoleSchema.options;

const port = z
  .number()
  .int()
  .min(1, 'must be a port number 1-65535')
  .max(65535, 'must be a port number 1-65535');
const count = z.number().int().min(0, 'must be 0 or more').max(1000, 'must be at most 1000');
/** Durations as in the roles' flags: 250ms, 30s, 5m, 1h (kept as text, parsed where they are used). */
const duration = durationText;
const envMap = z.record(
  z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'environment variable names are letters, digits and _'),
  z.union([z.string(), z.number(), z.boolean()]).transform((v) => String(v)),
);

export const FeederOptionsSchema = z
  .object({
    source: z.enum(['synthetic', 'replay', 'twitter']).default('synthetic'),
    /** catalog JSON file (default: the one the feeder ships with) */
    catalog: z.string().min(1).optional(),
    /** synthetic tweets per second */
    rate: z.number().int('must be a whole number').positive('must be more than 0').optional(),
    /** recorded tweets (NDJSON) for source: replay */
    replay: z.string().min(1).optional(),
    speed: z.union([z.number().positive('must be more than 0'), z.literal('max')]).optional(),
    loop: z.boolean().optional(),
    /** how often the role logs its summary line (default: half the keeper's alerts.silence, else 30s) */
    summary_interval: duration.optional(),
  })
  .strict()
  .superRefine((o, ctx) => {
    if (o.source === 'replay' && !o.replay) {
      ctx.addIssue({ code: 'custom', path: ['replay'], message: 'is required when source is replay' });
    }
  });

export const EndpointOptionsSchema = z
  .object({
    /** first listening port; process i listens on port + i (local: free ports when absent) */
    port: port.optional(),
    /** bind address */
    host: z.string().min(1).optional(),
    /** the host name clients are told to connect to (registry, reconnect) */
    public_host: z.string().min(1).optional(),
    tls: z
      .object({ cert: z.string().min(1), key: z.string().min(1) })
      .strict()
      .optional(),
    max_clients: z.number().int().positive('must be more than 0').optional(),
    soft_limit: z.number().int().positive('must be more than 0').optional(),
    /** connections one client address may hold (role default 256) */
    max_per_ip: z.number().int().positive('must be more than 0').optional(),
    /** close a client that has not sent connect by then (role default 10s) */
    connect_timeout: duration.optional(),
    summary_interval: duration.optional(),
  })
  .strict()
  .superRefine((o, ctx) => {
    if (o.max_clients !== undefined && o.soft_limit !== undefined && o.soft_limit > o.max_clients) {
      ctx.addIssue({ code: 'custom', path: ['soft_limit'], message: 'must not be above max_clients' });
    }
  });

export const KeeperOptionsSchema = z
  .object({
    /** s3://BUCKET/PREFIX or file://DIR (local default: a folder in the state dir) */
    archive: z
      .string()
      .regex(/^(s3:\/\/[^/]+|file:\/\/.+)/, 'must be s3://BUCKET/PREFIX or file://DIR')
      .optional(),
    alerts: z
      .object({
        sms: z
          .string()
          .regex(/^\+\d{6,15}$/, 'must be a phone number like +15555550100')
          .optional(),
        email: z.email('must be an e-mail address').optional(),
        email_from: z.email('must be an e-mail address').optional(),
        silence: duration.optional(),
      })
      .strict()
      .superRefine((o, ctx) => {
        if (o.email && !o.email_from) {
          ctx.addIssue({ code: 'custom', path: ['email_from'], message: 'is required when email is set' });
        }
      })
      .optional(),
    flush: duration.optional(),
    /** private spool folder while the archive is unreachable (role default: under ~/.local/state) */
    spool_dir: z.string().min(1).optional(),
    /** exception emails per exception window before the rest go into one digest (role default 20) */
    exception_max_emails: z
      .number()
      .int()
      .positive('must be more than 0')
      .max(100_000, 'must be at most 100000')
      .optional(),
    /** alert once the archive has been unreachable this long (role default 5m) */
    archive_alert_after: duration.optional(),
    summary_interval: duration.optional(),
  })
  .strict();

function roleEntry<T extends z.ZodType>(options: T, defaultCount: number) {
  return z
    .object({
      /** local: processes; ec2: instances; ssh: each host listed with the role runs one */
      count: count.default(defaultCount),
      options: options.prefault({} as z.input<T>),
      /** extra environment for the role's processes (FG_* names the role reads) */
      env: envMap.default({}),
    })
    .strict()
    .prefault({});
}

export const RolesSchema = z
  .object({
    feeder: roleEntry(FeederOptionsSchema, 1),
    endpoint: roleEntry(EndpointOptionsSchema, 2),
    keeper: roleEntry(KeeperOptionsSchema, 1),
  })
  .strict()
  .prefault({});

export const SshHostSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9._-]+$/, 'may only hold letters, digits, dot, dash and underscore'),
    address: z.string().min(1),
    port: port.default(22),
    /** overrides ssh.user */
    user: z.string().min(1).optional(),
    roles: z.array(RoleSchema).min(1, 'must list at least one role (feeder, endpoint, keeper)'),
    /** overrides ssh.base_dir (tests give each loopback host its own folder) */
    base_dir: z.string().min(1).optional(),
  })
  .strict();

export const SshSchema = z
  .object({
    user: z.string().min(1).optional(),
    /** private key file */
    key: z.string().min(1).optional(),
    known_hosts: z.string().min(1).default('~/.ssh/known_hosts'),
    /** trust and record a host key seen for the first time (like StrictHostKeyChecking=accept-new) */
    accept_new_host_keys: z.boolean().default(false),
    /** where releases live on the hosts: BASE/releases/<version>, BASE/current */
    base_dir: z.string().min(1).default('/opt/filmgrain'),
    /** node binary on the hosts */
    node_path: z.string().min(1).default('node'),
    /** hosts handled at once */
    concurrency: z.number().int().min(1).max(500).default(10),
    connect_timeout: duration.default('10s'),
    hosts: z.array(SshHostSchema).default([]),
  })
  .strict()
  .superRefine((o, ctx) => {
    const seen = new Map<string, number>();
    o.hosts.forEach((h, i) => {
      if (seen.has(h.name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['hosts', i, 'name'],
          message: `"${h.name}" is already the name of hosts[${seen.get(h.name)}]`,
        });
      } else seen.set(h.name, i);
    });
  });

/** Installs Node 20 on a fresh Debian/Ubuntu or Amazon Linux instance. */
export const DEFAULT_USER_DATA = `#!/bin/bash
set -euo pipefail
if ! command -v node >/dev/null || ! node -e 'process.exit(+process.versions.node.split(".")[0] < 20)'; then
  if command -v apt-get >/dev/null; then
    curl -fsSL https://deb.nodesource.com/setup_20.x | bash -
    apt-get install -y nodejs
  else
    curl -fsSL https://rpm.nodesource.com/setup_20.x | bash -
    yum install -y nodejs
  fi
fi
mkdir -p /opt/filmgrain && chown "$(id -un 1000 2>/dev/null || echo root)" /opt/filmgrain
`;

export const Ec2Schema = z
  .object({
    region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region like us-east-1'),
    /** AWS API endpoint (moto in tests); AWS_ENDPOINT_URL works too */
    endpoint: z.url('must be a URL like http://127.0.0.1:5000').optional(),
    ami: z.string().regex(/^ami-[0-9a-f]+$/, 'must be an AMI id like ami-0abc1234'),
    instance_type: z.string().min(1).default('t3.small'),
    /** per-role instance type, overriding instance_type */
    instance_types: z
      .object({ feeder: z.string(), endpoint: z.string(), keeper: z.string() })
      .partial()
      .strict()
      .default({}),
    key_pair: z.string().min(1),
    security_group: z.string().regex(/^sg-[0-9a-f]+$/, 'must be a security group id like sg-0abc1234'),
    subnet: z
      .string()
      .regex(/^subnet-[0-9a-f]+$/, 'must be a subnet id like subnet-0abc1234')
      .optional(),
    /** value of the `fleet` tag: several fleets can share an account */
    fleet: z.string().min(1).default('filmgrain'),
    tags: z.record(z.string(), z.string()).default({}),
    /** cloud-init user-data; the default installs Node 20 */
    user_data: z.string().min(1).default(DEFAULT_USER_DATA),
    /** how long to wait for instances to be running */
    wait_timeout: duration.default('5m'),
  })
  .strict();

export const LocalSchema = z
  .object({
    /** where the supervisor keeps its state, logs and private Redis (default: .god/local in the working dir) */
    state_dir: z.string().min(1).optional(),
    /** run dist/roles/<role>.mjs bundles instead of the TypeScript sources */
    dist: z.boolean().default(false),
    redis_server: z.string().min(1).default('redis-server'),
    /** replace a role's program (a .mjs/.js/.ts file); for development and tests */
    entry: z
      .object({ feeder: z.string(), endpoint: z.string(), keeper: z.string() })
      .partial()
      .strict()
      .default({}),
    restart: z
      .object({
        /** first delay after a crash, doubled on each crash in a row */
        backoff_min: duration.default('500ms'),
        backoff_max: duration.default('30s'),
        /** a process up this long is stable again: its backoff starts over */
        stable_after: duration.default('30s'),
      })
      .strict()
      .prefault({}),
    /** how long a role may take to stop on SIGTERM before SIGKILL */
    stop_timeout: duration.default('10s'),
  })
  .strict()
  .prefault({});

export const GodConfigSchema = z
  .object({
    provider: ProviderKindSchema.default('local'),
    redis: z
      .object({
        /** the fleet's Redis; local without it: a private redis-server */
        url: redisUrl.optional(),
        prefix: z.string().min(1).default(DEFAULT_PREFIX),
        tls_ca: z.string().min(1).optional(),
      })
      .strict()
      .prefault({}),
    /** release reported by locally started processes (default: the package version) */
    release: z
      .string()
      .regex(/^[A-Za-z0-9._+-]+$/, 'may only hold letters, digits, dot, dash, plus and underscore')
      .optional(),
    roles: RolesSchema,
    local: LocalSchema,
    ssh: SshSchema.optional(),
    ec2: Ec2Schema.optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.provider === 'ssh') {
      if (!c.ssh)
        ctx.addIssue({ code: 'custom', path: ['ssh'], message: 'is required when provider is ssh' });
      else if (c.ssh.hosts.length === 0) {
        ctx.addIssue({ code: 'custom', path: ['ssh', 'hosts'], message: 'must list at least one host' });
      }
    }
    if (c.provider === 'ec2' && !c.ec2) {
      ctx.addIssue({ code: 'custom', path: ['ec2'], message: 'is required when provider is ec2' });
    }
    if (c.provider !== 'local' && !c.redis.url) {
      ctx.addIssue({
        code: 'custom',
        path: ['redis', 'url'],
        message: `is required when provider is ${c.provider} (the hosts must reach one Redis)`,
      });
    }
  });

export type GodConfig = z.output<typeof GodConfigSchema>;
export type GodConfigInput = z.input<typeof GodConfigSchema>;
export type SshConfig = z.output<typeof SshSchema>;
export type SshHost = z.output<typeof SshHostSchema>;
export type Ec2Config = z.output<typeof Ec2Schema>;
export type LocalConfig = z.output<typeof LocalSchema>;
export type RolesConfig = z.output<typeof RolesSchema>;
export type FeederOptions = z.output<typeof FeederOptionsSchema>;
export type EndpointOptions = z.output<typeof EndpointOptionsSchema>;
export type KeeperOptions = z.output<typeof KeeperOptionsSchema>;
