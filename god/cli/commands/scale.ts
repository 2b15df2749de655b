// `god up [ROLE] [-n N]`, `god down [ROLE] [-n N | --id IDS] [--force]`, `god restart [ROLE] [--id IDS]`.
import { createInterface } from 'node:readline/promises';
import { UserError } from '../../../kernel/errors.ts';
import { intFrom } from '../../../kernel/flags.ts';
import { defineOptions, type OptionValues } from '../../../kernel/options.ts';
import { durationMs } from '../../../kernel/units.ts';
import { DOWN_OPTIONS, drainOptions } from '../../core/drain.ts';
import {
  downOp,
  downPick,
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
import { adminTokenOf } from '../../core/secrets/admin-token.ts';
import { secretsContext } from './secrets.ts';
import { confirm } from '../confirm.ts';
import { defineCommand, YES_OPTIONS } from '../spec.ts';
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
  return {
    redis: () => ctx.redis(),
    timeoutMs: flags.timeout,
    signal: ctx.signal,
    events: ctx.events,
    adminToken: async () => (await adminTokenOf(secretsContext(ctx))).token,
  };
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

/** Interactive when a person can answer: both ends a terminal, not CI, not --json. */
function canAsk(ctx: CliContext): boolean {
  return !!process.stdin.isTTY && !!process.stderr.isTTY && !ctx.env.CI && !ctx.opts.json;
}

async function askLast(ids: string[]): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const a = await rl.question(
      `${ids.join(', ')} ${ids.length > 1 ? 'are' : 'is'} the last endpoint(s): clients will have nowhere to go. Take down anyway? [y/N] `,
    );
    return /^y(es)?$/i.test(a.trim());
  } finally {
    rl.close();
  }
}

export const downCommand = defineCommand({
  options: {
    id: {
      flag: '--id <ids>',
      env: 'GOD_ID',
      description: 'only these processes/instances (comma-separated)',
    },
    count: {
      flag: '-n, --count <n>',
      env: 'GOD_COUNT',
      description: 'take this many of ROLE away (endpoints: fewest clients first; else the newest)',
      schema: intFrom(1).optional(),
    },
    ...DOWN_OPTIONS,
    ...DRY_RUN,
    ...YES_OPTIONS,
  },
  async run(ctx, [roleArg], opts) {
    if (opts.count !== undefined && (!roleArg || opts.id)) {
      throw new UserError('-n/--count needs a role and no --id', {
        code: 'GOD_USAGE',
        hint: 'e.g. god down endpoint -n 1, or god down --id endpoint-2',
      });
    }
    const t = await target(ctx, roleArg, opts.id);
    const drain = drainOptions(opts, {
      redis: () => ctx.redis(),
      confirmLast: canAsk(ctx) ? askLast : undefined,
      signal: ctx.signal,
    });
    if (opts.dryRun) {
      // -n: the plan of the processes the down would pick
      const ids =
        opts.count !== undefined && t.role ? await downPick(t.provider, t.role, opts.count, drain) : t.ids;
      ctx.out.result(
        'down',
        await planOp({ ...t, ids, config: ctx.loaded.config, action: 'down' }),
        renderPlan,
      );
      return 0;
    }
    const what = opts.id
      ? `stop ${t.ids?.join(', ')}`
      : t.role
        ? `stop ${opts.count !== undefined ? `${opts.count} of ` : 'every '}${t.role}`
        : 'stop the whole fleet';
    await confirm(ctx, { yes: opts.yes, what, command: 'down' });
    const r = await downOp({ ...t, count: opts.count, drain });
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
