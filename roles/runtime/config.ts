// Role configuration: every option is a flag and an env var (kernel/options.ts), validated by one zod schema
// each; the options every role takes.
import os from 'node:os';
import { Command } from 'commander';
import { z } from 'zod';
import { DEFAULT_PREFIX, LogLevelSchema } from '../../protocol/redis-contract.ts';
import { UserError } from '../../kernel/errors.ts';
import { boolFlag, intFrom } from '../../kernel/flags.ts';
import {
  addOptions,
  type OptionProblem,
  type OptionsSpec,
  type OptionValues,
  readOptionEnv,
  resolveOptions,
} from '../../kernel/options.ts';
import { redisUrl } from '../../kernel/redis-url.ts';
import { durationMs } from '../../kernel/units.ts';

// the shared grammar and option machinery, for the roles' option specs
export { boolFlag, durationMs, intFrom };
export type { OptionSpec, OptionsSpec } from '../../kernel/options.ts';
/** A role's configuration: what its option specs parse to. */
export type ConfigOf<S extends OptionsSpec> = OptionValues<S>;

/** Options every role takes. */
export const commonOptions = {
  redis: {
    flag: '--redis <url>',
    env: 'FG_REDIS_URL',
    description:
      'Redis: redis://[:password@]host:port[/db] (rediss:// for TLS), or a Sentinel set redis+sentinel://[:password@]s1:26379,s2:26379/master[/db][?sentinel_password=...] (rediss+sentinel:// for TLS)',
    schema: redisUrl,
    default: 'redis://127.0.0.1:6379',
    secret: true,
  },
  redisTlsCa: {
    flag: '--redis-tls-ca <file>',
    env: 'FG_REDIS_TLS_CA',
    description: 'CA certificate file for rediss:// and rediss+sentinel:// (default: system CAs)',
    schema: z.string().optional(),
  },
  redisTlsInsecure: {
    flag: '--redis-tls-insecure',
    env: 'FG_REDIS_TLS_INSECURE',
    description: 'do not verify the Redis TLS certificate (testing only)',
    schema: boolFlag.default(false),
  },
  prefix: {
    flag: '--prefix <prefix>',
    env: 'FG_PREFIX',
    description: 'prefix of every Redis key',
    schema: z.string().min(1),
    default: DEFAULT_PREFIX,
  },
  id: {
    flag: '--id <id>',
    env: 'FG_ID',
    description: 'process id in the fleet (default: <role>-<hostname>-<pid>)',
    schema: z
      .string()
      .regex(/^[A-Za-z0-9._-]+$/, 'may only hold letters, digits, dot, dash and underscore')
      .optional(),
  },
  hostName: {
    flag: '--host-name <name>',
    env: 'FG_HOST',
    description: 'host name reported in heartbeats and logs',
    schema: z.string().min(1),
    default: os.hostname(),
  },
  release: {
    flag: '--release <version>',
    env: 'FG_RELEASE',
    description: 'release version reported in heartbeats',
    schema: z.string().optional(),
  },
  logLevel: {
    flag: '--log-level <level>',
    env: 'FG_LOG_LEVEL',
    description: 'trace|debug|info|warn|error|fatal',
    schema: LogLevelSchema,
    default: 'info',
  },
  summaryInterval: {
    flag: '--summary-interval <duration>',
    env: 'FG_SUMMARY_INTERVAL',
    description:
      "how often the role logs a summary line of what it did; keep it below the keeper's --silence (default 60s)",
    schema: durationMs.pipe(z.number().min(100, 'must be at least 100ms')),
    default: '30s',
  },
  stopTimeout: {
    flag: '--stop-timeout <duration>',
    env: 'FG_STOP_TIMEOUT',
    description: 'how long a graceful stop may take before the process exits anyway',
    schema: durationMs,
    default: '10s',
  },
  adminListen: {
    flag: '--admin-listen <host:port>',
    env: 'FG_ADMIN_LISTEN',
    description:
      'serve /metrics, /healthz and /readyz over HTTP here (off when unset; port 0 picks a free one, named in the heartbeat); off loopback it needs an admin token',
    schema: z.string().min(1).optional(),
  },
  adminTokenFile: {
    flag: '--admin-token-file <file>',
    env: 'FG_ADMIN_TOKEN_FILE',
    description:
      'file holding the bearer token the admin listener requires (or set FG_ADMIN_TOKEN; required off loopback)',
    schema: z.string().min(1).optional(),
  },
} satisfies OptionsSpec;
export type CommonConfig = ConfigOf<typeof commonOptions>;

/** A role's problem names both the flag and the env var: a unit file or a shell may have set either. */
function problemLine(problem: OptionProblem): string {
  const shown = problem.shown === undefined ? '' : ` (got ${JSON.stringify(problem.shown)})`;
  return `${problem.flag} / ${problem.env}${shown}: ${problem.message}`;
}

/**
 * Parse argv and env against a spec. Flags win over env vars, env vars over defaults.
 * All problems are reported at once, each naming its flag and env var.
 */
export function parseConfig<S extends OptionsSpec>(
  program: string,
  spec: S,
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
  opts: { description?: string; exitOnHelp?: boolean } = {},
): ConfigOf<S> {
  const cmd = new Command(program)
    .description(opts.description ?? '')
    .allowExcessArguments(false)
    .exitOverride()
    .configureOutput({ writeErr: () => {}, writeOut: (text) => process.stdout.write(text) });
  addOptions(cmd, spec);
  try {
    cmd.parse(argv, { from: 'user' });
  } catch (err) {
    const e = err as { code?: string; message?: string };
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') {
      if (opts.exitOnHelp !== false) process.exit(0);
      throw new UserError('help shown', { code: 'FG_HELP' });
    }
    throw new UserError(`${program}: ${e.message?.replace(/^error: /, '') ?? String(err)}`, {
      code: 'FG_CONFIG',
      hint: `Run \`${program} --help\` to see every option and its environment variable.`,
    });
  }
  readOptionEnv(cmd, spec, env);
  const { values, problems } = resolveOptions(spec, cmd.opts());
  if (problems.length) {
    throw new UserError(
      `${program}: invalid configuration:\n  - ${problems.map(problemLine).join('\n  - ')}`,
      {
        code: 'FG_CONFIG',
        hint: `Fix the flag or the environment variable named above. \`${program} --help\` lists them all.`,
      },
    );
  }
  return values;
}
