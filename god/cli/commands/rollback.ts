// `god rollback [VERSION]`: back to a release the hosts still have (default: the one before `current`).
import { rollback } from '../../core/deploy/rollback.ts';
import { confirm } from '../confirm.ts';
import { defineCommand, YES_OPTIONS } from '../spec.ts';
import { COMMON_OPTIONS, remoteRunOptions, renderDeploy } from './deploy.ts';

export const rollbackCommand = defineCommand({
  options: { ...COMMON_OPTIONS, ...YES_OPTIONS },
  async run(ctx, [version], opts) {
    const run = await remoteRunOptions(ctx, opts, 'rollback');
    if (!opts.dryRun) {
      const to = version ? `release ${version}` : 'the previous release';
      await confirm(ctx, {
        yes: opts.yes,
        what: `switch ${run.hosts.length} host(s) back to ${to} and restart them`,
        command: 'rollback',
      });
    }
    const r = await rollback({
      ...run,
      version: version ?? (ctx.env.GOD_ROLLBACK_VERSION || undefined),
    });
    ctx.out.result('rollback', r, (d) => renderDeploy(ctx, d), r.ok);
    return r.ok ? 0 : 1;
  },
});
