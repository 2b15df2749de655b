// `down: {role, ids, force, drain_timeout}`: `god down` of the picked processes, endpoints drained first as
// `god down` drains them (drain.ts's DOWN_OPTIONS); left empty, the whole fleet. A play has no one to ask:
// taking the last endpoints down needs `force: true`.
import { z } from 'zod';
import { durationText } from '../../../../kernel/units.ts';
import { RoleSchema } from '../../../../protocol/redis-contract.ts';
import { downFlags, drainOptions } from '../../drain.ts';
import { downOp, targetOf } from '../../operations.ts';
import type { PlayContext } from '../context.ts';
import { ids, orEmpty } from '../fields.ts';
import { defineKind } from './kind.ts';
import { changeLine, providerPlan } from './provider-plan.ts';

export const DownSchema = z
  .object({
    role: RoleSchema.optional(),
    ids: ids.optional(),
    /** skip the drain (and the last-endpoint refusal), as `god down --force` */
    force: z.boolean().optional(),
    /** as `god down --drain-timeout` (default there: 60s) */
    drain_timeout: durationText.optional(),
  })
  .strict();

/** What the provider would stop: only what runs, and (down of everything) what the fleet runs besides. */
const planDown = async (ctx: PlayContext, args: z.output<typeof DownSchema>) =>
  (await providerPlan(ctx, { op: 'down', target: targetOf(args) })).map(changeLine);

export const down = defineKind({
  kind: 'down',
  args: orEmpty(DownSchema),
  hint: 'down takes role, ids, force (true: no drain) and drain_timeout (a duration); left empty it stops the whole fleet.',
  example: null,
  defaultName: (args) => `down ${args.role ?? args.ids?.join(',') ?? 'fleet'}`,
  timeout: '120s',
  needsFleet: false,
  plan: (ctx, step) => planDown(ctx, step.args),
  async run(ctx, step) {
    const changes = await planDown(ctx, step.args);
    const flags = downFlags({ force: step.args.force, drainTimeout: step.args.drain_timeout });
    await downOp({
      provider: ctx.provider,
      role: step.args.role,
      ids: step.args.ids,
      drain: drainOptions(flags, { redis: () => ctx.redis(), signal: ctx.signal }),
      events: ctx.events,
    });
    return { changed: changes.length > 0, changes };
  },
});
