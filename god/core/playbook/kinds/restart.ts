// `restart: {role, ids, wait}`: `god restart` of the picked processes (empty: all), then wait for them.
import { z } from 'zod';
import { RoleSchema } from '../../../../protocol/redis-contract.ts';
import { restartOp } from '../../operations.ts';
import type { PlayContext } from '../context.ts';
import { ids, orEmpty } from '../fields.ts';
import { select, waitOpts } from './fleet.ts';
import { defineKind } from './kind.ts';

export const RestartSchema = z
  .object({ role: RoleSchema.optional(), ids: ids.optional(), wait: z.boolean().default(true) })
  .strict();

const planRestart = async (pc: PlayContext, a: z.output<typeof RestartSchema>) =>
  (await pc.provider.expected()).filter((p) => select(p, a)).map((p) => `restart ${p.id}`);

export const restart = defineKind({
  kind: 'restart',
  args: orEmpty(RestartSchema),
  hint: 'restart takes role (feeder, endpoint, keeper), ids and wait; empty restarts all.',
  example: null,
  defaultName: (a) => `restart ${a.role ?? a.ids?.join(',') ?? 'fleet'}`,
  timeout: '120s',
  needsFleet: false,
  plan: (pc, s) => planRestart(pc, s.args),
  async run(pc, s, timeoutMs) {
    const changes = await planRestart(pc, s.args);
    await restartOp({
      provider: pc.provider,
      role: s.args.role,
      ids: s.args.ids,
      wait: waitOpts(pc, timeoutMs, s.args.wait),
      events: pc.events,
    });
    return { changed: changes.length > 0, changes };
  },
});
