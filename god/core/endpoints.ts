// `god endpoints`: the endpoint registry (every endpoint's record, healthy or not) and shedding clients from one
// endpoint with a `shed` control message on its control channel.
import { z } from 'zod';
import { isHealthyEndpoint } from '../../protocol/endpoint-list.ts';
import { readHeartbeats } from '../../protocol/heartbeats.ts';
import {
  type ControlMessage,
  ENDPOINT_TTL_S,
  type EndpointRecord,
  EndpointRecordSchema,
} from '../../protocol/redis-contract.ts';
import { UserError } from '../../kernel/errors.ts';
import type { EventSink } from './events.ts';
import { STALE_AFTER_MS } from './liveness.ts';
import type { FleetRedis } from './redis.ts';

export const EndpointStatusSchema = EndpointRecordSchema.extend({
  healthy: z.boolean(),
  /** seconds since the endpoint last refreshed its record */
  age_s: z.number(),
});
export type EndpointStatus = z.infer<typeof EndpointStatusSchema>;

/**
 * An endpoint process that beats but has no registry record: started `--unlisted` (admission.ts) and not (yet)
 * admitted at its release, so no client can find it. `admitted`: the release it is admitted at, if another.
 */
export const UnlistedEndpointSchema = z.object({
  id: z.string(),
  host: z.string(),
  version: z.string(),
  admitted: z.string().nullable(),
  clients: z.number().int(),
});
export type UnlistedEndpoint = z.infer<typeof UnlistedEndpointSchema>;

export const EndpointsReportSchema = z.object({
  at: z.string(),
  endpoints: z.array(EndpointStatusSchema),
  /** ids in the registry index whose record expired (the endpoint is gone) */
  gone: z.array(z.string()),
  total_clients: z.number().int(),
  total_capacity: z.number().int(),
  /** with `unlisted: true` (`god endpoints`): beating endpoints not in the registry */
  unlisted: z.array(UnlistedEndpointSchema).optional(),
});
export type EndpointsReport = z.infer<typeof EndpointsReportSchema>;

export const ShedResultSchema = z.object({
  endpoint: z.string(),
  clients: z.number().int(),
  /** processes that received the control message (1 when the endpoint is alive) */
  receivers: z.number().int(),
});
export type ShedResult = z.infer<typeof ShedResultSchema>;

/** A record older than this is not healthy: as for heartbeats, two missed refreshes (liveness.ts). */
export const ENDPOINT_MAX_AGE_MS = STALE_AFTER_MS;

/**
 * Age of a record from its key's remaining TTL (each refresh sets ENDPOINT_TTL_S): Redis's clock, not the
 * endpoint host's `at` against God's clock. A key with another TTL (written by hand) is aged by its `at`.
 */
export function recordAgeMs(rec: EndpointRecord, pttlMs: number, now = Date.now()): number {
  const full = ENDPOINT_TTL_S * 1000;
  if (pttlMs >= 0 && pttlMs <= full) return full - pttlMs;
  return Math.max(0, now - Date.parse(rec.at));
}

/**
 * The registry. `unlisted`: also the endpoints that beat without a record (two more reads: heartbeats and
 * admissions), which a drain's polling does not need.
 */
export async function listEndpoints(
  fr: FleetRedis,
  now = Date.now(),
  o: { unlisted?: boolean } = {},
): Promise<EndpointsReport> {
  const ids = await fr.redis.zrange(fr.keys.endpointIndex, 0, '-1');
  const res = ids.length
    ? ((await fr.redis
        .pipeline(
          ids.flatMap((id) => [
            ['get', fr.keys.endpoint(id)],
            ['pttl', fr.keys.endpoint(id)],
          ]),
        )
        .exec()) ?? [])
    : [];
  const endpoints: EndpointStatus[] = [];
  const gone: string[] = [];
  ids.forEach((id, i) => {
    const v = res[2 * i]?.[1];
    const rec = typeof v === 'string' ? EndpointRecordSchema.safeParse(safeJson(v)) : undefined;
    if (!rec?.success) {
      gone.push(id);
      return;
    }
    const age = recordAgeMs(rec.data, Number(res[2 * i + 1]?.[1]), now);
    endpoints.push({
      ...rec.data,
      healthy: isHealthyEndpoint(rec.data, now) && age <= ENDPOINT_MAX_AGE_MS,
      age_s: Math.round(age / 100) / 10,
    });
  });
  endpoints.sort((a, b) => a.id.localeCompare(b.id, undefined, { numeric: true }));
  return {
    at: new Date(now).toISOString(),
    endpoints,
    gone,
    total_clients: endpoints.reduce((s, e) => s + e.clients, 0),
    total_capacity: endpoints.reduce((s, e) => s + e.capacity, 0),
    ...(o.unlisted ? { unlisted: await unlistedEndpoints(fr, new Set(ids)) } : {}),
  };
}

async function unlistedEndpoints(fr: FleetRedis, listed: Set<string>): Promise<UnlistedEndpoint[]> {
  const beats = (await readHeartbeats(fr.redis, fr.keys)).filter(
    (b) => b.role === 'endpoint' && !listed.has(b.id),
  );
  if (beats.length === 0) return [];
  const admitted = await fr.redis.hgetall(fr.keys.endpointAdmitted);
  return beats
    .map((b) => ({
      id: b.id,
      host: b.host,
      version: b.version,
      admitted: admitted[b.id] ?? null,
      clients: Math.trunc(b.gauges.clients ?? 0),
    }))
    .sort((a, b) => a.id.localeCompare(b.id, undefined, { numeric: true }));
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
}

/** Tell endpoint `id` to shed `clients` clients (they get `reconnect` to other endpoints). */
export async function shedEndpoint(
  fr: FleetRedis,
  id: string,
  clients: number,
  events?: EventSink,
): Promise<ShedResult> {
  if (!Number.isInteger(clients) || clients < 1) {
    throw new UserError(`cannot shed ${clients} clients`, {
      code: 'GOD_USAGE',
      hint: 'Give a whole number of clients, 1 or more: god endpoints shed ID N.',
    });
  }
  const report = await listEndpoints(fr);
  const ep = report.endpoints.find((e) => e.id === id);
  if (!ep) {
    throw new UserError(`no endpoint ${id} in the registry`, {
      code: 'GOD_TARGET',
      hint: `Known endpoints: ${report.endpoints.map((e) => e.id).join(', ') || 'none'}. \`god endpoints\` lists them.`,
    });
  }
  const msg: ControlMessage = { cmd: 'shed', clients, reason: 'god endpoints shed' };
  const receivers = await fr.redis.publish(fr.keys.control('endpoint', id), JSON.stringify(msg));
  if (receivers === 0) {
    throw new UserError(`endpoint ${id} is in the registry but nothing listens on its control channel`, {
      code: 'GOD_UNREACHABLE',
      hint: 'It may have just stopped; check `god status` and try again.',
    });
  }
  events?.emit({ type: 'info', message: `asked ${id} to shed ${clients} of its ${ep.clients} clients` });
  return { endpoint: id, clients, receivers };
}
