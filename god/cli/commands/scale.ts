// `god up [ROLE] [-n N]`, `god down [ROLE] [--id IDS]`, `god restart [ROLE] [--id IDS]`.
import { UserError } from '../../../kernel/errors.ts';
import { intFrom } from '../../../kernel/flags.ts';
import { defineOptions, type OptionValues } from '../../../kernel/options.ts';
import { durationMs } from '../../../kernel/units.ts';
import {
  downOp,
  type OperationResult,
  parseRole,
  type PlanResult,
  planOp,
  restartOp,
  upOp,
  type WaitOptions,
} from '../../core/operations.ts';
import { describeChange } from '../../core/providers/types.ts';
import type { CliContext } from '../context.ts';
import { defineCommand } from '../spec.ts';
import { table } from '../output.ts';

const WAIT_OPTIONS = defineOptions({
  wait: { flag: '--no-wait', env: 'GOD_WAIT', description: 'return without waiting for heartbeats' },
  timeout: {
    flag: '--timeout <duration>',
    env: 'GOD_TIMEOUT',
    description: 'how long to wait for heartbeats',
    schema: durationMs,
    default: '60s',
  },
});

const DRY_RUN = defineOptions({
  dryRun: {
    flag: '--dry-run',
    env: 'GOD_DRY_RUN',
    description: 'print what would change (processes, machines, supervisor, Redis) and change nothing',
  },
});

function waitOptions(ctx: CliContext, flags: OptionValues<typeof WAIT_OPTIONS>): WaitOptions | undefined {
  if (!flags.wait) return undefined;
  return { redis: () => ctx.redis(), timeoutMs: flags.timeout, signal: ctx.signal, events: ctx.events };
}

/** down and restart: the fleet, a ROLE, or --id processes */
async function target(ctx: CliContext, roleArg: string | undefined, ids: string | undefined) {
  return {
    provider: await ctx.provider(),
    role: parseRole(roleArg),
    ids: ids
      ?.split(',')
      .map((id) => id.trim())
      .filter(Boolean),
    events: ctx.events,
  };
}

/** --dry-run: one line per planned change */
function renderPlan(r: PlanResult): string[] {
  return r.changes.length ? r.changes.map(describeChange) : ['nothing to change'];
}

function render(r: OperationResult): string[] {
  const head = `${r.action} ${r.role ?? (r.ids ? r.ids.join(',') : 'fleet')}${r.count !== null ? ` → ${r.count}` : ''}: ${r.processes.length} process(es) expected${r.healthy ? ', all beating' : ''} (${r.ms} ms)`;
  return r.processes.length ? [head, ...table(r.processes.map((p) => [p.role, p.id, p.host]))] : [head];
}

export const upCommand = defineCommand({
  options: {
    count: {
      flag: '-n, --count <n>',
      env: 'GOD_COUNT',
      description: "how many (default: the role's configured count)",
      schema: intFrom(0).optional(),
    },
    ...WAIT_OPTIONS,
    ...DRY_RUN,
  },
  async run(ctx, [roleArg], opts) {
    const role = parseRole(roleArg);
    if (opts.count !== undefined && !role) {
      throw new UserError('-n/--count needs a role', {
        code: 'GOD_USAGE',
        hint: 'e.g. god up endpoint -n 3',
      });
    }
    if (opts.dryRun) {
      const p = { provider: await ctx.provider(), config: ctx.loaded.config, role, count: opts.count };
      ctx.out.result('up', await planOp({ ...p, action: 'up' }), renderPlan);
      return 0;
    }
    const r = await upOp({
      provider: await ctx.provider(),
      config: ctx.loaded.config,
      role,
      count: opts.count,
      wait: waitOptions(ctx, opts),
      events: ctx.events,
    });
    ctx.out.result('up', r, render);
    return 0;
  },
});

export const downCommand = defineCommand({
  options: {
    id: {
      flag: '--id <ids>',
      env: 'GOD_ID',
      description: 'only these processes/instances (comma-separated)',
    },
    ...DRY_RUN,
  },
  async run(ctx, [roleArg], opts) {
    if (opts.dryRun) {
      const t = await target(ctx, roleArg, opts.id);
      ctx.out.result('down', await planOp({ ...t, config: ctx.loaded.config, action: 'down' }), renderPlan);
      return 0;
    }
    const r = await downOp(await target(ctx, roleArg, opts.id));
    ctx.out.result('down', r, render);
    return 0;
  },
});

export const restartCommand = defineCommand({
  options: {
    id: { flag: '--id <ids>', env: 'GOD_ID', description: 'only these processes (comma-separated)' },
    ...WAIT_OPTIONS,
    ...DRY_RUN,
  },
  async run(ctx, [roleArg], opts) {
    if (opts.dryRun) {
      const t = await target(ctx, roleArg, opts.id);
      ctx.out.result(
        'restart',
        await planOp({ ...t, config: ctx.loaded.config, action: 'restart' }),
        renderPlan,
      );
      return 0;
    }
    const r = await restartOp({ ...(await target(ctx, roleArg, opts.id)), wait: waitOptions(ctx, opts) });
    ctx.out.result('restart', r, render);
    return 0;
  },
});
