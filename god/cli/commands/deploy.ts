// `god deploy` and `god rollback`: thin flags (each also a GOD_* env var) over the deploy services.
import { z } from 'zod';
import { UserError } from '../../../kernel/errors.ts';
import { intFrom } from '../../../kernel/flags.ts';
import { defineOptions, type OptionValues } from '../../../kernel/options.ts';
import { durationMs } from '../../../kernel/units.ts';
import { deploy } from '../../core/deploy/deploy.ts';
import type { DeployResult, ProcessMode, RemoteRunOptions } from '../../core/deploy/types.ts';
import { parseRole } from '../../core/operations.ts';
import { isRemoteProvider } from '../../core/providers/types.ts';
import type { CliContext } from '../context.ts';
import { defineCommand } from '../spec.ts';
import { table } from '../output.ts';

const PROCESS_MODES = ['auto', 'systemd', 'supervisor'] as const satisfies readonly ProcessMode[];

export const COMMON_OPTIONS = defineOptions({
  roles: {
    flag: '--roles <roles>',
    env: 'GOD_ROLES',
    description: 'only these roles (comma-separated), on the hosts that run them',
  },
  concurrency: {
    flag: '--concurrency <n>',
    env: 'GOD_CONCURRENCY',
    description: 'hosts handled at once (default: ssh.concurrency, 10)',
    schema: intFrom(1).optional(),
  },
  dryRun: {
    flag: '--dry-run',
    env: 'GOD_DRY_RUN',
    description: 'print what would change (files, restarts) and change nothing',
    default: false,
  },
  healthTimeout: {
    flag: '--health-timeout <duration>',
    env: 'GOD_HEALTH_TIMEOUT',
    description: 'how long a restarted process has to beat with the new release',
    schema: durationMs,
    default: '30s',
  },
  health: {
    flag: '--no-health',
    env: 'GOD_HEALTH',
    description: 'do not wait for heartbeats / endpoint answers after restarting',
  },
  acceptNew: {
    flag: '--accept-new',
    env: 'GOD_SSH_ACCEPT_NEW',
    description: 'pin host keys of hosts missing from known_hosts (a changed key is always refused)',
    default: false,
  },
  lockWait: {
    flag: '--lock-wait <duration>',
    env: 'GOD_LOCK_WAIT',
    description: 'wait this long for a deploy lock another run holds instead of failing at once (e.g. 5m)',
    schema: durationMs.optional(),
  },
  mode: {
    flag: '--mode <mode>',
    env: 'GOD_PROCESS_MODE',
    description: 'auto (systemd when the host has it and we are root), systemd or supervisor',
    schema: z.enum(PROCESS_MODES, {
      error: (issue) =>
        `${JSON.stringify(issue.input)} is not a process mode: use auto, systemd or supervisor`,
    }),
    default: 'auto',
  },
});
export type RemoteFlags = OptionValues<typeof COMMON_OPTIONS>;

/** What deploy and rollback share, from their common flags: the provider's hosts, SSH, the fleet's Redis. */
export async function remoteRunOptions(
  ctx: CliContext,
  flags: RemoteFlags,
  verb: string,
): Promise<RemoteRunOptions> {
  const provider = await ctx.provider();
  if (!isRemoteProvider(provider)) {
    throw new UserError(
      `god ${verb} ships releases to ssh and ec2 hosts; this fleet uses the ${provider.kind} provider`,
      {
        code: 'GOD_USAGE',
        hint: 'The local fleet runs the sources directly: use `god restart` after changing code.',
      },
    );
  }
  const roles = flags.roles
    ?.split(',')
    .map((name) => name.trim())
    .filter(Boolean)
    .map((name) => parseRole(name)!);
  const ssh = { ...provider.sshOptions(), ...(flags.acceptNew ? { acceptNew: true } : {}) };
  const hosts = await provider.deployHosts();
  const concurrency = flags.concurrency ?? provider.concurrency();
  const fleet = await ctx.redis();
  return {
    hosts,
    ssh,
    redis: fleet.redis,
    keys: fleet.keys,
    roles,
    concurrency,
    dryRun: flags.dryRun,
    mode: flags.mode,
    healthTimeoutMs: flags.healthTimeout,
    lockWaitMs: flags.lockWait,
    noHealth: !flags.health,
    events: ctx.events,
  };
}

export function renderDeploy(ctx: CliContext, r: DeployResult): string[] {
  const s = ctx.out.style.bind(ctx.out);
  const color = (st: string) =>
    st === 'deployed' || st === 'unchanged' || st === 'planned'
      ? s(st, 'green')
      : st === 'skipped'
        ? s(st, 'gray')
        : s(st, 'red', 'bold');
  const rows = r.hosts.map((h) => [
    h.host,
    color(h.status),
    `${h.previous ?? '-'} → ${h.current ?? '-'}`,
    h.uploaded.length ? `${h.uploaded.length} (${h.uploaded.join(', ')})` : '0',
    h.restarted.join(', ') || '-',
    h.error ? h.error.split('\n')[0]! : '',
  ]);
  const ok = r.hosts.filter((h) => h.ok).length;
  return [
    ...table(
      rows,
      ['HOST', 'STATUS', 'RELEASE', 'UPLOADED', r.dryRun ? 'WOULD RESTART' : 'RESTARTED', 'ERROR'].map((x) =>
        s(x, 'bold'),
      ),
    ),
    '',
    `${r.dryRun ? 'dry run: nothing changed. ' : ''}release ${r.version}: ${ok}/${r.hosts.length} host(s) ok in ${(r.ms / 1000).toFixed(1)} s${r.stoppedAtBatch ? s(`; stopped at batch ${r.stoppedAtBatch} (rolled back)`, 'red') : ''}`,
    ...r.hosts
      .filter((h) => h.error && h.hint)
      .map((h) => `${s(h.host, 'bold')}: ${s('→', 'cyan')} ${h.hint}`),
  ];
}

/** How a release rolls out: `god deploy` and `god secrets push` (a deploy of the roles using secrets). */
export const ROLLOUT_OPTIONS = defineOptions({
  batch: {
    flag: '--batch <n>',
    env: 'GOD_BATCH',
    description:
      'hosts per batch, N or N% (default: all at once); a failed batch is rolled back and stops the rollout',
  },
  bundleDir: {
    flag: '--bundle-dir <dir>',
    env: 'GOD_BUNDLE_DIR',
    description: 'take the bundles from here instead of dist/roles (the release the hosts then run)',
  },
  keep: {
    flag: '--keep <n>',
    env: 'GOD_KEEP',
    description: 'releases kept on each host',
    schema: intFrom(1),
    default: '5',
  },
});

export const deployCommand = defineCommand({
  options: {
    version: {
      flag: '--version <version>',
      env: 'GOD_VERSION',
      description: 'release name (default: bundle version + content hash)',
    },
    batch: ROLLOUT_OPTIONS.batch,
    build: {
      flag: '--build',
      env: 'GOD_BUILD',
      description: 'run `npm run build` first (it runs anyway when dist/roles lacks a bundle)',
      default: false,
    },
    bundleDir: ROLLOUT_OPTIONS.bundleDir,
    keep: ROLLOUT_OPTIONS.keep,
    ...COMMON_OPTIONS,
  },
  async run(ctx, _args, opts) {
    const r = await deploy({
      ...(await remoteRunOptions(ctx, opts, 'deploy')),
      version: opts.version,
      bundleDir: opts.bundleDir,
      build: opts.build,
      batch: opts.batch,
      keep: opts.keep,
      signal: ctx.signal,
    });
    ctx.out.result('deploy', r, (d) => renderDeploy(ctx, d), r.ok);
    return r.ok ? 0 : 1;
  },
});
