// `shed: {endpoint, clients}`: ask an endpoint (an id, or `busiest`) to shed clients (`god endpoints shed`).
import { z } from 'zod';
import { UserError } from '../../../../kernel/errors.ts';
import { ENDPOINT_TTL_S } from '../../../../protocol/redis-contract.ts';
import { listEndpoints, shedEndpoint } from '../../endpoints.ts';
import type { PlayContext } from '../context.ts';
import { positive } from '../fields.ts';
import { defineKind } from './kind.ts';

export const ShedSchema = z
  .object({
    /** an endpoint id, or `busiest` (the one with the most clients) */
    endpoint: z.string().min(1),
    clients: positive,
  })
  .strict();

/**
 * The endpoint with the most clients. A record's count is as of the endpoint's last beat, so clients that
 * connected since are missing from it (an earlier step's clients can all look like 0 on one endpoint, and
 * "busiest" would pick the wrong one). With `fresh`, wait (up to ENDPOINT_TTL_S) until every listed endpoint
 * has rewritten its record since this call: detected by its `at` changing, so the clocks of remote hosts do
 * not matter. An endpoint that does not beat in time is judged on the record it has.
 */
async function busiest(pc: PlayContext, fresh = false): Promise<string> {
  const fleetRedis = await pc.redis();
  let rep = await listEndpoints(fleetRedis);
  if (fresh) {
    const before = new Map(rep.endpoints.map((e) => [e.id, e.at]));
    const until = Date.now() + ENDPOINT_TTL_S * 1000;
    while (
      rep.endpoints.some((e) => e.healthy && before.get(e.id) === e.at) &&
      Date.now() < until &&
      !pc.signal?.aborted
    ) {
      await new Promise((r) => setTimeout(r, 100));
      rep = await listEndpoints(fleetRedis);
    }
  }
  const live = rep.endpoints.filter((e) => e.healthy).sort((a, b) => b.clients - a.clients);
  if (!live[0]) {
    throw new UserError('shed: no healthy endpoint in the registry', {
      code: 'GOD_TARGET',
      hint: 'Start endpoints first (a provision step) and wait for them.',
    });
  }
  return live[0].id;
}

export const shed = defineKind({
  kind: 'shed',
  args: ShedSchema,
  hint: 'shed takes endpoint (an id like endpoint-1, or busiest) and clients (1 or more).',
  example: { endpoint: 'busiest', clients: 1 },
  defaultName: (a) => `shed ${a.clients} client(s) from ${a.endpoint}`,
  timeout: '30s',
  needsFleet: true,
  async plan(pc, s) {
    const fleetRedis = await pc.tryRedis();
    return [
      `ask ${s.args.endpoint === 'busiest' && fleetRedis ? await busiest(pc) : s.args.endpoint} to shed ${s.args.clients} client(s)`,
    ];
  },
  async run(pc, s) {
    const fleetRedis = await pc.redis();
    const id = s.args.endpoint === 'busiest' ? await busiest(pc, true) : s.args.endpoint;
    const r = await shedEndpoint(fleetRedis, id, s.args.clients, pc.events);
    return { changed: true, changes: [`asked ${r.endpoint} to shed ${r.clients} client(s)`] };
  },
});
