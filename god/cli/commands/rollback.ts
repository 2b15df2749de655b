// `god rollback [VERSION]`: back to a release the hosts still have (default: the one before `current`).
import { rollback } from '../../core/deploy/rollback.ts';
import { defineCommand } from '../spec.ts';
import { COMMON_OPTIONS, remoteRunOptions, renderDeploy } from './deploy.ts';

export const rollbackCommand = defineCommand({
  options: COMMON_OPTIONS,
  async run(ctx, [version], opts) {
    const r = await rollback({
      ...(await remoteRunOptions(ctx, opts, 'rollback')),
      version: version ?? (ctx.env.GOD_ROLLBACK_VERSION || undefined),
    });
    ctx.out.result('rollback', r, (d) => renderDeploy(ctx, d), r.ok);
    return r.ok ? 0 : 1;
  },
});
