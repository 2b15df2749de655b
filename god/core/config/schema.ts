// The god.config.yaml schema: one zod schema, the types derived from it are what every God service reads.
import { z } from 'zod';
import { ProviderKindSchema } from '../../../kernel/providers.ts';
import { redisUrl } from '../../../kernel/redis-url.ts';
import { durationText } from '../../../kernel/units.ts';
import { DEFAULT_PREFIX, type Role, RoleSchema } from '../../../protocol/redis-contract.ts';
import { OS_NAMES } from '../providers/ec2/images.ts';
import { SecretsSchema } from '../secrets/schema.ts';

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

/**
 * `admin_listen: HOST:PORT` (any role): its admin listener (/metrics, /healthz, /readyz), the role's
 * --admin-listen. Process i of a role listens on PORT + i (port 0: a free one each). Off loopback the roles
 * need the fleet's admin token: a secret with `env: FG_ADMIN_TOKEN` (README "Observability").
 */
const adminListen = z
  .string()
  .regex(/^(\[[^\]]+\]|[^:[\]]+):\d{1,5}$/, 'must be HOST:PORT, e.g. 127.0.0.1:9464')
  .optional();

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
    admin_listen: adminListen,
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
    admin_listen: adminListen,
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
    admin_listen: adminListen,
  })
  .strict();

function roleEntry<T extends z.ZodType>(options: T, defaultCount: number) {
  return z
    .object({
      /** local: processes; ec2: instances; ssh: each host listed with the role runs one */
      count: count.default(defaultCount),
      /**
       * ssh, ec2: processes of the role per host / instance (one Node process uses one core: 2 on a 2-vCPU
       * type); endpoint process i listens on options.port + i. local: count is already the processes.
       */
      processes: z.number().int().min(1, 'must be 1 or more').max(64, 'must be at most 64').default(1),
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

/** A jump host (bastion): hosts in private subnets are reached through it (ssh -J), for every SSH use. */
export const SshJumpSchema = z
  .object({
    address: z.string().min(1),
    port: port.default(22),
    /** default: ssh.user */
    user: z.string().min(1).optional(),
    /** private key file for the jump host; default: ssh.key */
    key: z.string().min(1).optional(),
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
    /** the unprivileged user the roles run as on the hosts (God creates it on first deploy) */
    run_as: z
      .string()
      .regex(/^[a-z_][a-z0-9_-]{0,31}$/, 'must be a user name (lowercase letters, digits, _ and -)')
      .refine((u) => u !== 'root', 'must not be root: roles never run as root')
      .default('filmgrain'),
    /** node binary on the hosts */
    node_path: z.string().min(1).default('node'),
    /** hosts handled at once */
    concurrency: z.number().int().min(1).max(500).default(10),
    connect_timeout: duration.default('10s'),
    /** reach every host through this jump host; its key is pinned in known_hosts like theirs */
    jump: SshJumpSchema.optional(),
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

const cidr = z
  .string()
  .regex(
    /^(\d{1,3}(\.\d{1,3}){3}\/\d{1,2}|[0-9A-Fa-f:]+\/\d{1,3})$/,
    'must be a CIDR like 203.0.113.7/32 or 0.0.0.0/0',
  );
const instanceType = z
  .string()
  .regex(/^[a-z][a-z0-9-]*\.[a-z0-9]+$/, 'must be an instance type like t3.small or c7g.large');
const securityGroupId = z.string().regex(/^sg-[0-9a-f]+$/, 'must be a security group id like sg-0abc1234');

/** Who may reach the fleet's security group (when God manages it; not with ec2.security_group). */
export const Ec2AccessSchema = z
  .object({
    /** who reaches the endpoint port(s) */
    endpoint_cidrs: z.array(cidr).min(1, 'must list at least one CIDR').default(['0.0.0.0/0']),
    /** who reaches SSH (22): the operator's address(es), e.g. [203.0.113.7/32]; or bastion_security_group */
    ssh_cidrs: z.array(cidr).default([]),
    /** SSH only from the instances of this group (a bastion / jump host) */
    bastion_security_group: securityGroupId.optional(),
    /** Redis runs on an instance in this group: open redis.url's port to the group itself, nobody else */
    redis_in_fleet: z.boolean().default(false),
  })
  .strict()
  .prefault({});

export const Ec2Schema = z
  .object({
    region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region like us-east-1'),
    /** AWS API endpoint (moto in tests); AWS_ENDPOINT_URL works too */
    endpoint: z.url('must be a URL like http://127.0.0.1:5000').optional(),
    /** a fixed AMI for every role (its architecture must match the instance types); default: from os */
    ami: z
      .string()
      .regex(/^ami-[0-9a-f]+$/, 'must be an AMI id like ami-0abc1234')
      .optional(),
    /** the distribution, when ami is not given: its latest AMI comes from the public SSM parameter */
    os: z.enum(OS_NAMES).default('debian-12'),
    /** an SSM parameter holding the AMI id instead of os's ({arch} becomes amd64 or arm64) */
    ami_parameter: z
      .string()
      .regex(/^\/[A-Za-z0-9_.\-/{}]+$/, 'must be an SSM parameter name like /my/images/{arch}')
      .optional(),
    instance_type: instanceType.default('t3.small'),
    /** per-role instance type, overriding instance_type (a Graviton type, e.g. c7g.large, runs arm64) */
    instance_types: z
      .object({ feeder: instanceType, endpoint: instanceType, keeper: instanceType })
      .partial()
      .strict()
      .default({}),
    /** roles launched as (one-time) spot instances */
    spot: z.array(RoleSchema).default([]),
    /** DisableApiTermination on new instances; `god down` lifts it for the instances it terminates */
    termination_protection: z.boolean().default(false),
    /** the key pair's name in EC2 */
    key_pair: z.string().min(1),
    /** public key file imported as key_pair when the region does not have it yet */
    public_key: z.string().min(1).optional(),
    /** use this security group as it is instead of the one God manages (filmgrain-<fleet>) */
    security_group: securityGroupId.optional(),
    access: Ec2AccessSchema,
    /** the VPC (default: the region's default VPC) */
    vpc: z
      .string()
      .regex(/^vpc-[0-9a-f]+$/, 'must be a VPC id like vpc-0abc1234')
      .optional(),
    /** zones to spread instances over; God makes one subnet per zone (default: the region's first 3) */
    availability_zones: z
      .array(z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d[a-z]$/, 'must be a zone like eu-west-1a'))
      .min(1)
      .optional(),
    /** use these subnets instead of creating them (instances spread over them) */
    subnets: z
      .array(z.string().regex(/^subnet-[0-9a-f]+$/, 'must be a subnet id like subnet-0abc1234'))
      .min(1)
      .optional(),
    /** size of the subnets God creates (/24 = 256 addresses) */
    subnet_prefix_length: z.number().int().min(16).max(28).default(24),
    /** instances get a public IPv4 address (false: private subnets, reached through a bastion) */
    public_ip: z.boolean().default(true),
    /** the root volume: always encrypted (the account's default EBS key, or kms_key) */
    volume: z
      .object({
        size_gb: z.number().int().min(8).max(16384).default(16),
        type: z.enum(['gp3', 'gp2', 'io2']).default('gp3'),
        kms_key: z.string().min(1).optional(),
      })
      .strict()
      .prefault({}),
    /** value of the `fleet` tag: several fleets can share an account */
    fleet: z
      .string()
      .regex(/^[A-Za-z0-9-]{1,32}$/, 'may only hold letters, digits and dashes (at most 32)')
      .default('filmgrain'),
    tags: z.record(z.string(), z.string()).default({}),
    /** extra cloud-init user-data (none by default: the release brings the runtime over SSH) */
    user_data: z.string().min(1).optional(),
    /** how long to wait for instances to be running */
    wait_timeout: duration.default('5m'),
    /**
     * pin: God makes each new instance's SSH host key, hands it over in user-data (cloud-init ssh_keys) and
     * pins its public half in known_hosts before the first connection. accept-new: trust on first use.
     */
    host_keys: z.enum(['pin', 'accept-new']).default('pin'),
    /** what `up` does after `running` (providers/ec2/ready.ts) */
    ready: z
      .object({
        /** wait for SSH, deploy the current release, start the role, wait for its health (false: stop at running) */
        serve: z.boolean().default(true),
        /** how long a new instance may take to open SSH */
        ssh_timeout: duration.default('3m'),
        /** how long the started role has to beat with the release (and, an endpoint, to answer connect) */
        health_timeout: duration.default('60s'),
        /** an instance failing a step: terminate it (the next `up` replaces it) or keep it to look at */
        on_failure: z.enum(['terminate', 'keep']).default('terminate'),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((o, ctx) => {
    if (!o.security_group && o.access.ssh_cidrs.length === 0 && !o.access.bastion_security_group) {
      ctx.addIssue({
        code: 'custom',
        path: ['access', 'ssh_cidrs'],
        message:
          'is required: God opens SSH only to the operator (EC2 cannot know the address God connects from); list your address, e.g. ssh_cidrs: [203.0.113.7/32] (curl https://checkip.amazonaws.com), or set access.bastion_security_group',
      });
    }
    if (o.subnets && o.availability_zones) {
      ctx.addIssue({
        code: 'custom',
        path: ['availability_zones'],
        message: 'cannot be combined with subnets (the subnets name their zones); give one of them',
      });
    }
  });

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
    /** secrets the roles get on remote hosts: where each comes from, never its value (god/core/secrets/) */
    secrets: SecretsSchema,
    /** God's audit trail (god/core/audit.ts): `broadcast` gets each record as JSON on stdin (sh -c) */
    audit: z
      .object({
        broadcast: z.string().min(1).optional(),
        /** a broadcast still running after this is killed (and warned about) */
        broadcast_timeout: duration.default('5s'),
      })
      .strict()
      .prefault({}),
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
export type Ec2Access = z.output<typeof Ec2AccessSchema>;
export type LocalConfig = z.output<typeof LocalSchema>;
export type RolesConfig = z.output<typeof RolesSchema>;
export type FeederOptions = z.output<typeof FeederOptionsSchema>;
export type EndpointOptions = z.output<typeof EndpointOptionsSchema>;
export type KeeperOptions = z.output<typeof KeeperOptionsSchema>;
