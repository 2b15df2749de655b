// `god ssh HOST|PROCESS`: an interactive shell on a host of the fleet (god/core/shell.ts), through the same SSH
// pool, known_hosts policy and jump host as deploy.
import { UserError } from '../../../kernel/errors.ts';
import { selectHosts } from '../../core/exec.ts';
import { interactiveShell } from '../../core/shell.ts';
import { SshPool } from '../../core/ssh/pool.ts';
import { defineCommand } from '../spec.ts';
import { remoteProviderFor } from './exec.ts';

export const sshCommand = defineCommand({
  options: {
    acceptNew: {
      flag: '--accept-new',
      env: 'GOD_SSH_ACCEPT_NEW',
      description:
        'pin the host key if the host is missing from known_hosts (a changed key is always refused)',
      default: false,
    },
  },
  async run(ctx, [target], opts) {
    if (!process.stdin.isTTY || !process.stdout.isTTY) {
      throw new UserError('god ssh opens an interactive shell and needs a terminal', {
        code: 'GOD_USAGE',
        hint: 'To run a command without a terminal use `god exec HOST -- COMMAND`.',
      });
    }
    const provider = await remoteProviderFor(ctx, 'ssh');
    const hosts = selectHosts(await provider.deployHosts(), target ?? '');
    if (hosts.length !== 1) {
      throw new UserError(`${target} names ${hosts.length} hosts: ${hosts.map((h) => h.name).join(', ')}`, {
        code: 'GOD_USAGE',
        hint: 'Name one host or one process id (`god status` lists them).',
      });
    }
    const host = hosts[0]!;
    const pool = new SshPool({ ...provider.sshOptions(), ...(opts.acceptNew ? { acceptNew: true } : {}) });
    try {
      const conn = await pool.get(host);
      const code = await interactiveShell(conn, { stdin: process.stdin, stdout: process.stdout });
      return code ?? 1;
    } catch (err) {
      if (err instanceof UserError) throw err;
      throw new UserError(`shell on ${host.name} failed: ${(err as Error).message}`, { code: 'GOD_SHELL' });
    } finally {
      await pool.closeAll();
    }
  },
});
