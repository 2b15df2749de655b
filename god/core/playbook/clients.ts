// Protocol clients for `assert`/`wait` checks: the client SDK connecting like an app would. A group kept by
// name (client: {keep: NAME}) stays connected for later steps (a drill checks its clients were moved).
import { buildEndpointList } from '../../../protocol/endpoint-list.ts';
import { type EndpointAddress, FilmgrainClient } from '../../../protocol/client/index.ts';
import type { EndpointRecord } from '../../../protocol/redis-contract.ts';
import { listEndpoints } from '../endpoints.ts';
import type { FleetRedis } from '../redis.ts';

export interface KeptClient {
  client: FilmgrainClient;
  /** the endpoint it first got `set_movies` from */
  first?: string;
}

export type ClientGroups = Map<string, KeptClient[]>;

export const addrKey = (a: EndpointAddress | null | undefined) => (a ? `${a.host}:${a.port}` : '');

/** The healthy endpoints of the registry, as the keeper would list them. */
export async function registryAddresses(fr: FleetRedis): Promise<EndpointAddress[]> {
  const rep = await listEndpoints(fr);
  const records: EndpointRecord[] = rep.endpoints.map(({ healthy: _h, age_s: _a, ...r }) => r);
  return buildEndpointList(records).endpoints.map((e) => ({ host: e.host, port: e.port, tls: e.tls }));
}

/**
 * Start `count` clients on `source` and wait until each got `set_movies`. Resolves with the clients (the
 * caller keeps or closes them); rejects naming how many did not make it, after closing them all.
 */
export async function connectClients(
  count: number,
  source: string | EndpointAddress[],
  timeoutMs: number,
): Promise<KeptClient[]> {
  if (Array.isArray(source) && source.length === 0) {
    throw new Error('no healthy endpoint in the registry to connect to');
  }
  const kept: KeptClient[] = [];
  const ready = Array.from({ length: count }, () => {
    const client = new FilmgrainClient({
      endpoints: source,
      app: 'god-play',
      version: '1',
      connectTimeoutMs: Math.min(10_000, timeoutMs),
      backoff: { initialMs: 200, maxMs: 2000 },
    });
    const k: KeptClient = { client };
    kept.push(k);
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      client.once('set_movies', () => {
        clearTimeout(timer);
        k.first = addrKey(client.endpoint);
        resolve(true);
      });
      client.start().catch(() => {
        clearTimeout(timer);
        resolve(false);
      });
    });
  });
  const oks = await Promise.all(ready);
  const bad = oks.filter((x) => !x).length;
  if (bad) {
    for (const k of kept) k.client.close();
    throw new Error(
      `${bad} of ${count} client(s) got no set_movies within ${Math.round(timeoutMs / 1000)} s from ${
        Array.isArray(source) ? source.map(addrKey).join(', ') : source
      }`,
    );
  }
  return kept;
}

export function closeGroups(groups: ClientGroups): void {
  for (const g of groups.values()) for (const k of g) k.client.close();
  groups.clear();
}
