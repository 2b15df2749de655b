// `god deploy` and `god rollback`: thin flags (each also a GOD_* env var) over the deploy services.
import { durationMs } from '../../../kernel/units.ts';
import { UserError } from '../../../kernel/errors.ts';
import { deploy } from '../../core/deploy/deploy.ts';
import type { DeployResult, ProcessMode, RemoteRunOptions } from '../../core/deploy/types.ts';
import { parseRole } from '../../core/operations.ts';
import { isRemoteProvider } from '../../core/providers/types.ts';
import { type CliContext, intArg } from '../context.ts';
import type { CommandSpec, OptionDef } from '../spec.ts';
import { table } from '../output.ts';

export const COMMON_OPTIONS: OptionDef[] = [
  {
    flags: '--roles <roles>',
    env: 'GOD_ROLES',
    description: 'only these roles (comma-separated), on the hosts that run them',
  },
  {
    flags: '--concurrency <n>',
    env: 'GOD_CONCURRENCY',
    description: 'hosts handled at once (default: ssh.concurrency, 10)',
  },
  {
    flags: '--dry-run',
    env: 'GOD_DRY_RUN',
    description: 'print what would change (files, restarts) and change nothing',
    default: false,
  },
  {
    flags: '--health-timeout <duration>',
    env: 'GOD_HEALTH_TIMEOUT',
    description: 'how long a restarted process has to beat with the new release',
    default: '30s',
  },
  {
    flags: '--no-health',
    env: 'GOD_HEALTH',
    description: 'do not wait for heartbeats / endpoint answers after restarting',
  },
  {
    flags: '--accept-new',
    env: 'GOD_SSH_ACCEPT_NEW',
    description: 'pin host keys of hosts missing from known_hosts (a changed key is always refused)',
    default: false,
  },
  {
    flags: '--mode <mode>',
    env: 'GOD_PROCESS_MODE',
    description: 'auto (systemd when the host has it and we are root), systemd or supervisor',
    default: 'auto',
  },
];

/** What deploy and rollback share, from their common flags: the provider's hosts, SSH, the fleet's Redis. */
export async function remoteRunOptions(
  ctx: CliContext,
  o: Record<string, unknown>,
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
  const roles = o.roles
    ? String(o.roles)
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
        .map((r) => parseRole(r)!)
    : undefined;
  const h = durationMs.safeParse(String(o.healthTimeout ?? '30s'));
  if (!h.success) {
    throw new UserError(`--health-timeout ${String(o.healthTimeout)} is not a duration`, {
      code: 'GOD_USAGE',
      hint: 'Use e.g. 30s, 2m.',
    });
  }
  const mode = String(o.mode ?? 'auto');
  if (!['auto', 'systemd', 'supervisor'].includes(mode)) {
    throw new UserError(`--mode ${mode} is not a process mode`, {
      code: 'GOD_USAGE',
      hint: 'Use auto, systemd or supervisor.',
    });
  }
  const ssh = { ...provider.sshOptions(), ...(o.acceptNew ? { acceptNew: true } : {}) };
  const hosts = await provider.deployHosts();
  const concurrency =
    o.concurrency !== undefined ? intArg(o.concurrency, '--concurrency', 1) : provider.concurrency();
  const fleet = await ctx.redis();
  return {
    hosts,
    ssh,
    redis: fleet.redis,
    keys: fleet.keys,
    roles,
    concurrency,
    dryRun: !!o.dryRun,
    mode: mode as ProcessMode,
    healthTimeoutMs: h.data,
    noHealth: o.health === false,
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

export const deployCommand: CommandSpec = {
  options: [
    {
      flags: '--version <version>',
      env: 'GOD_VERSION',
      description: 'release name (default: bundle version + content hash)',
    },
    {
      flags: '--batch <n>',
      env: 'GOD_BATCH',
      description:
        'hosts per batch, N or N% (default: all at once); a failed batch is rolled back and stops the rollout',
    },
    {
      flags: '--build',
      env: 'GOD_BUILD',
      description: 'run `npm run build` first (it runs anyway when dist/roles lacks a bundle)',
      default: false,
    },
    {
      flags: '--bundle-dir <dir>',
      env: 'GOD_BUNDLE_DIR',
      description: 'take the bundles from here instead of dist/roles',
    },
    { flags: '--keep <n>', env: 'GOD_KEEP', description: 'releases kept on each host', default: '5' },
    ...COMMON_OPTIONS,
  ],
  async run(ctx, _args, o) {
    const r = await deploy({
      ...(await remoteRunOptions(ctx, o, 'deploy')),
      version: o.version as string | undefined,
      bundleDir: o.bundleDir as string | undefined,
      build: !!o.build,
      batch: o.batch as string | undefined,
      keep: intArg(o.keep ?? 5, '--keep', 1),
      signal: ctx.signal,
    });
    ctx.out.result('deploy', r, (d) => renderDeploy(ctx, d), r.ok);
    return r.ok ? 0 : 1;
  },
};
