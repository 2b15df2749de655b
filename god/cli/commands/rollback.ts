// `god rollback [VERSION]`: back to a release the hosts still have (default: the one before `current`).
import { rollback } from '../../core/deploy/rollback.ts';
import type { DeployHost } from '../../core/deploy/types.ts';
import type { CommandSpec } from '../spec.ts';
import { COMMON_OPTIONS, remoteSetup, renderDeploy } from './deploy.ts';

export const rollbackCommand: CommandSpec = {
  options: COMMON_OPTIONS,
  async run(ctx, [version], o) {
    const st = await remoteSetup(ctx, o, 'rollback');
    const fleet = await ctx.redis();
    const r = await rollback({
      hosts: st.hosts,
      ssh: st.ssh,
      redis: fleet.redis,
      keys: fleet.keys,
      version: version ?? (ctx.env.GOD_ROLLBACK_VERSION || undefined),
      roles: st.roles as DeployHost['processes'][number]['role'][] | undefined,
      concurrency: st.concurrency,
      dryRun: !!o.dryRun,
      mode: st.mode,
      healthTimeoutMs: st.healthTimeoutMs,
      noHealth: st.noHealth,
      events: ctx.events,
    });
    ctx.out.result('rollback', r, (d) => renderDeploy(ctx, d), r.ok);
    return r.ok ? 0 : 1;
  },
};
