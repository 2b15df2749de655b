// `down: {role, ids}`: `god down` of the picked processes; left empty, the whole fleet.
import { z } from 'zod';
import { RoleSchema } from '../../../../protocol/redis-contract.ts';
import { downOp, targetOf } from '../../operations.ts';
import type { PlayContext } from '../context.ts';
import { ids, orEmpty } from '../fields.ts';
import { defineKind } from './kind.ts';
import { changeLine, providerPlan } from './provider-plan.ts';

export const DownSchema = z.object({ role: RoleSchema.optional(), ids: ids.optional() }).strict();

/** What the provider would stop: only what runs, and (down of everything) what the fleet runs besides. */
const planDown = async (ctx: PlayContext, args: z.output<typeof DownSchema>) =>
  (await providerPlan(ctx, { op: 'down', target: targetOf(args) })).map(changeLine);

export const down = defineKind({
  kind: 'down',
  args: orEmpty(DownSchema),
  hint: 'down takes role and ids; left empty it stops the whole fleet.',
  example: null,
  defaultName: (args) => `down ${args.role ?? args.ids?.join(',') ?? 'fleet'}`,
  timeout: '120s',
  needsFleet: false,
  plan: (ctx, step) => planDown(ctx, step.args),
  async run(ctx, step) {
    const changes = await planDown(ctx, step.args);
    await downOp({ provider: ctx.provider, role: step.args.role, ids: step.args.ids, events: ctx.events });
    return { changed: changes.length > 0, changes };
  },
});
