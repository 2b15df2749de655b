// `restart: {role, ids, wait}`: `god restart` of the picked processes (empty: all), then wait for them.
import { z } from 'zod';
import { RoleSchema } from '../../../../protocol/redis-contract.ts';
import { restartOp, targetOf } from '../../operations.ts';
import type { PlayContext } from '../context.ts';
import { ids, orEmpty } from '../fields.ts';
import { waitOpts } from './fleet.ts';
import { defineKind } from './kind.ts';
import { changeLine, providerPlan } from './provider-plan.ts';

export const RestartSchema = z
  .object({ role: RoleSchema.optional(), ids: ids.optional(), wait: z.boolean().default(true) })
  .strict();

const planRestart = async (ctx: PlayContext, args: z.output<typeof RestartSchema>) =>
  (await providerPlan(ctx, { op: 'restart', target: targetOf(args) })).map(changeLine);

export const restart = defineKind({
  kind: 'restart',
  args: orEmpty(RestartSchema),
  hint: 'restart takes role (feeder, endpoint, keeper), ids and wait; empty restarts all.',
  example: null,
  defaultName: (args) => `restart ${args.role ?? args.ids?.join(',') ?? 'fleet'}`,
  timeout: '120s',
  needsFleet: false,
  plan: (ctx, step) => planRestart(ctx, step.args),
  async run(ctx, step, timeoutMs) {
    const changes = await planRestart(ctx, step.args);
    await restartOp({
      provider: ctx.provider,
      role: step.args.role,
      ids: step.args.ids,
      wait: waitOpts(ctx, timeoutMs, step.args.wait),
      events: ctx.events,
    });
    return { changed: changes.length > 0, changes };
  },
});
