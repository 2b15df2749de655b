// endpoints.json: the list of endpoints a client may connect to. The keeper writes it (archive target and
// Redis); the client SDK reads exactly this shape.
import { z } from 'zod';
import type { EndpointRecord } from './redis-contract.ts';

export const EndpointListEntrySchema = z.object({
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535),
  tls: z.boolean(),
  clients: z.number().int().min(0),
  capacity: z.number().int().min(0),
});
export type EndpointListEntry = z.infer<typeof EndpointListEntrySchema>;

export const EndpointListSchema = z.object({
  endpoints: z.array(EndpointListEntrySchema),
  /** ISO time the list was written */
  updated_at: z.string(),
});
export type EndpointList = z.infer<typeof EndpointListSchema>;

/** File name of the list under the archive target (`s3://BUCKET/PREFIX/endpoints.json`, `DIR/endpoints.json`). */
export const ENDPOINT_LIST_FILE = 'endpoints.json';

/**
 * A record is healthy when it is not draining. Liveness comes from the registry itself (a record's key
 * expires ENDPOINT_TTL_S after its last refresh); its `at` is written by the endpoint's clock, so it is
 * only compared when the caller asks (`maxAgeMs`), to stay safe from clock skew between hosts.
 */
export function isHealthyEndpoint(rec: EndpointRecord, now: number = Date.now(), maxAgeMs?: number): boolean {
  if (rec.draining) return false;
  if (maxAgeMs === undefined) return true;
  const at = Date.parse(rec.at);
  return Number.isFinite(at) && now - at <= maxAgeMs;
}

/**
 * Build the list from registry records (read from live keys, e.g. ENDPOINT_TTL_S): healthy endpoints, one per host:port,
 * sorted by host then port so equal sets give equal lists.
 */
export function buildEndpointList(
  records: EndpointRecord[],
  now: Date = new Date(),
  opts: { maxAgeMs?: number } = {},
): EndpointList {
  const byAddr = new Map<string, EndpointRecord>();
  for (const r of records) {
    if (!isHealthyEndpoint(r, now.getTime(), opts.maxAgeMs)) continue;
    const key = `${r.host}:${r.port}`;
    const prev = byAddr.get(key);
    // two records for one address (a restarted process): keep the freshest
    if (!prev || Date.parse(r.at) > Date.parse(prev.at)) byAddr.set(key, r);
  }
  const endpoints = [...byAddr.values()]
    .sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : a.port - b.port))
    .map((r) => ({ host: r.host, port: r.port, tls: r.tls, clients: r.clients, capacity: r.capacity }));
  return { endpoints, updated_at: now.toISOString() };
}

/** The identity of the set of endpoints (addresses and TLS), ignoring load and time: a change means "write now". */
export function endpointSetKey(list: EndpointList): string {
  return list.endpoints.map((e) => `${e.host}:${e.port}:${e.tls ? 's' : 'p'}`).join(',');
}

/** Parse endpoints.json text; throws a readable error naming what is wrong. */
export function parseEndpointList(text: string): EndpointList {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new Error(`endpoints.json is not valid JSON: ${(err as Error).message}`);
  }
  const r = EndpointListSchema.safeParse(raw);
  if (!r.success) {
    const why = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new Error(`endpoints.json does not match the endpoint list schema: ${why}`);
  }
  return r.data;
}
