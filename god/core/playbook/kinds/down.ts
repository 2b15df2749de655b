// `down: {role, ids}`: `god down` of the picked processes; left empty, the whole fleet.
import { z } from 'zod';
import { RoleSchema } from '../../../../protocol/redis-contract.ts';
import { downOp } from '../../operations.ts';
import type { PlayContext } from '../context.ts';
import { ids, orEmpty } from '../fields.ts';
import { fleetRunning, isUp, liveStatus, select } from './fleet.ts';
import { defineKind } from './kind.ts';

export const DownSchema = z.object({ role: RoleSchema.optional(), ids: ids.optional() }).strict();

async function planDown(pc: PlayContext, a: z.output<typeof DownSchema>): Promise<string[]> {
  const all = !a.role && !a.ids;
  const provider = pc.provider;
  const live = await liveStatus(pc);
  const procs = (await provider.expected()).filter((p) => select(p, a));
  // an inventory lists processes whether they run or not: only running ones change
  const changes = procs
    .filter((p) => !provider.listsStoppedProcesses || isUp(live, p.id))
    .map((p) => `stop ${p.id}`);
  if (all && provider.ownServices && (await fleetRunning(pc))) changes.push(provider.ownServices.stop);
  return changes;
}

export const down = defineKind({
  kind: 'down',
  args: orEmpty(DownSchema),
  hint: 'down takes role and ids; left empty it stops the whole fleet.',
  example: null,
  defaultName: (a) => `down ${a.role ?? a.ids?.join(',') ?? 'fleet'}`,
  timeout: '120s',
  needsFleet: false,
  plan: (pc, s) => planDown(pc, s.args),
  async run(pc, s) {
    const changes = await planDown(pc, s.args);
    await downOp({ provider: pc.provider, role: s.args.role, ids: s.args.ids, events: pc.events });
    return { changed: changes.length > 0, changes };
  },
});
