// `god up [ROLE] [-n N]`, `god down [ROLE] [--id IDS]`, `god restart [ROLE] [--id IDS]`.
import { durationMs } from '../../../kernel/units.ts';
import { UserError } from '../../../kernel/errors.ts';
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
import { type CliContext, intArg } from '../context.ts';
import type { CommandSpec, OptionDef } from '../spec.ts';
import { table } from '../output.ts';

const WAIT_OPTIONS: OptionDef[] = [
  { flags: '--no-wait', env: 'GOD_WAIT', description: 'return without waiting for heartbeats' },
  {
    flags: '--timeout <duration>',
    env: 'GOD_TIMEOUT',
    description: 'how long to wait for heartbeats',
    default: '60s',
  },
];

const DRY_RUN: OptionDef = {
  flags: '--dry-run',
  env: 'GOD_DRY_RUN',
  description: 'print what would change (processes, supervisor, Redis) and change nothing',
  default: false,
};

function waitOptions(ctx: CliContext, o: Record<string, unknown>): WaitOptions | undefined {
  if (o.wait === false) return undefined;
  const t = durationMs.safeParse(String(o.timeout ?? '60s'));
  if (!t.success) {
    throw new UserError(`--timeout ${String(o.timeout)} is not a duration`, {
      code: 'GOD_USAGE',
      hint: 'Use e.g. 30s, 2m.',
    });
  }
  return { redis: () => ctx.redis(), timeoutMs: t.data, signal: ctx.signal, events: ctx.events };
}

/** down and restart: the fleet, a ROLE, or --id processes */
async function target(ctx: CliContext, roleArg: string | undefined, o: Record<string, unknown>) {
  return {
    provider: await ctx.provider(),
    role: parseRole(roleArg),
    ids: (o.id as string | undefined)
      ?.split(',')
      .map((s) => s.trim())
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

export const upCommand: CommandSpec = {
  options: [
    {
      flags: '-n, --count <n>',
      env: 'GOD_COUNT',
      description: "how many (default: the role's configured count)",
    },
    ...WAIT_OPTIONS,
    DRY_RUN,
  ],
  async run(ctx, [roleArg], o) {
    const role = parseRole(roleArg);
    if (o.count !== undefined && !role) {
      throw new UserError('-n/--count needs a role', {
        code: 'GOD_USAGE',
        hint: 'e.g. god up endpoint -n 3',
      });
    }
    const count = o.count !== undefined ? intArg(o.count, '--count') : undefined;
    if (o.dryRun) {
      const p = { provider: await ctx.provider(), config: ctx.loaded.config, role, count };
      ctx.out.result('up', await planOp({ ...p, action: 'up' }), renderPlan);
      return 0;
    }
    const r = await upOp({
      provider: await ctx.provider(),
      config: ctx.loaded.config,
      role,
      count,
      wait: waitOptions(ctx, o),
      events: ctx.events,
    });
    ctx.out.result('up', r, render);
    return 0;
  },
};

export const downCommand: CommandSpec = {
  options: [
    { flags: '--id <ids>', env: 'GOD_ID', description: 'only these processes/instances (comma-separated)' },
    DRY_RUN,
  ],
  async run(ctx, [roleArg], o) {
    if (o.dryRun) {
      const t = await target(ctx, roleArg, o);
      ctx.out.result('down', await planOp({ ...t, config: ctx.loaded.config, action: 'down' }), renderPlan);
      return 0;
    }
    const r = await downOp(await target(ctx, roleArg, o));
    ctx.out.result('down', r, render);
    return 0;
  },
};

export const restartCommand: CommandSpec = {
  options: [
    { flags: '--id <ids>', env: 'GOD_ID', description: 'only these processes (comma-separated)' },
    ...WAIT_OPTIONS,
    DRY_RUN,
  ],
  async run(ctx, [roleArg], o) {
    if (o.dryRun) {
      const t = await target(ctx, roleArg, o);
      ctx.out.result(
        'restart',
        await planOp({ ...t, config: ctx.loaded.config, action: 'restart' }),
        renderPlan,
      );
      return 0;
    }
    const r = await restartOp({ ...(await target(ctx, roleArg, o)), wait: waitOptions(ctx, o) });
    ctx.out.result('restart', r, render);
    return 0;
  },
};
