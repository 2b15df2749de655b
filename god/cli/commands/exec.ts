// `god exec SELECTOR -- COMMAND`: a command on every host the selector names (god/core/exec.ts), each output
// line prefixed with its host (or an `output` NDJSON event with --json); exit 1 if any host failed.
import { UserError } from '../../../kernel/errors.ts';
import { intFrom } from '../../../kernel/flags.ts';
import { safeText } from '../../core/logs.ts';
import { type ExecResult, execOnHosts } from '../../core/exec.ts';
import { isRemoteProvider, type RemoteProvider } from '../../core/providers/types.ts';
import { SshPool } from '../../core/ssh/pool.ts';
import type { CliContext } from '../context.ts';
import { table } from '../output.ts';
import { defineCommand } from '../spec.ts';

/** The ssh/ec2 provider, or a clear refusal: the local fleet is this machine, a plain shell reaches it. */
export async function remoteProviderFor(ctx: CliContext, verb: string): Promise<RemoteProvider> {
  const provider = await ctx.provider();
  if (!isRemoteProvider(provider)) {
    throw new UserError(
      `god ${verb} reaches ssh and ec2 hosts; this fleet uses the ${provider.kind} provider, whose processes run on this machine`,
      {
        code: 'GOD_EXEC_LOCAL',
        hint: 'Run the command here directly (the local fleet is under .god/local: logs/, state.json).',
      },
    );
  }
  return provider;
}

function render(ctx: CliContext, r: ExecResult): string[] {
  const s = ctx.out.style.bind(ctx.out);
  const failed = r.hosts.filter((h) => !h.ok);
  const lines = [
    '',
    `${r.hosts.length - failed.length}/${r.hosts.length} host(s) ok in ${(r.ms / 1000).toFixed(1)} s`,
  ];
  if (failed.length) {
    lines.push(...table(failed.map((h) => [s(h.host, 'bold'), s(h.error ?? 'failed', 'red')])));
  }
  return lines;
}

export const execCommand = defineCommand({
  options: {
    concurrency: {
      flag: '--concurrency <n>',
      env: 'GOD_EXEC_CONCURRENCY',
      description: 'hosts the command runs on at once (default: ssh.concurrency, 10)',
      schema: intFrom(1).optional(),
    },
    acceptNew: {
      flag: '--accept-new',
      env: 'GOD_SSH_ACCEPT_NEW',
      description: 'pin host keys of hosts missing from known_hosts (a changed key is always refused)',
      default: false,
    },
  },
  async run(ctx, [selector, ...words], opts) {
    const provider = await remoteProviderFor(ctx, 'exec');
    const pool = new SshPool({ ...provider.sshOptions(), ...(opts.acceptNew ? { acceptNew: true } : {}) });
    // plain: each line on stdout as `host | line`, escapes shown escaped (a host's output must not drive
    // the operator's terminal); --json prints the output events themselves
    const hosts = await provider.deployHosts();
    const width = Math.max(0, ...hosts.map((h) => h.name.length));
    const off = ctx.out.json
      ? () => {}
      : ctx.events.on((ev) => {
          if (ev.type !== 'output') return;
          const mark = ev.stream === 'stderr' ? ctx.out.style('!', 'red') : ctx.out.style('|', 'gray');
          ctx.out.item(
            'output',
            {},
            `${ctx.out.style(ev.host.padEnd(width), 'cyan')} ${mark} ${safeText(ev.line)}`,
          );
        });
    try {
      const r = await execOnHosts({
        hosts,
        pool,
        selector: selector ?? '',
        command: words.join(' '),
        concurrency: opts.concurrency ?? provider.concurrency(),
        events: ctx.events,
        signal: ctx.signal,
      });
      ctx.out.result('exec', r, (d) => render(ctx, d), r.ok);
      return r.ok ? 0 : 1;
    } finally {
      off();
      await pool.closeAll();
    }
  },
});
