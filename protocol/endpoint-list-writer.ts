// Keeps endpoints.json current: from the registry (live keys only) to the archive target and to Redis,
// at once when the set of endpoints changes and at least every --endpoints-interval. The one writer of the
// list: the keeper runs it on a timer, God's `publish_endpoints` step ticks it once.
import type { Redis } from 'ioredis';
import type { ArchiveTarget } from './archive-target.ts';
import { buildEndpointList, ENDPOINT_LIST_FILE, type EndpointList, endpointSetKey } from './endpoint-list.ts';
import { type EndpointRecord, EndpointRecordSchema, type RedisContract } from './redis-contract.ts';

/** What the writer logs through (a pino logger in the keeper; nothing in God, which reports the step itself). */
export interface WriterLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface EndpointWriterOptions {
  redis: Redis;
  keys: RedisContract;
  target: ArchiveTarget;
  intervalMs: number;
  log: WriterLog;
}

export class EndpointListWriter {
  private lastSet?: string;
  private lastWrite = 0;
  private lastFailLog = 0;
  writes = 0;
  current?: EndpointList;

  constructor(private readonly o: EndpointWriterOptions) {}

  async readRegistry(): Promise<EndpointRecord[]> {
    const { redis, keys } = this.o;
    const ids = await redis.zrange(keys.endpointIndex, 0, '-1');
    if (!ids.length) return [];
    const vals = await redis.mget(ids.map((id) => keys.endpoint(id)));
    const out: EndpointRecord[] = [];
    for (const v of vals) {
      if (!v) continue; // expired: the endpoint is gone
      try {
        const r = EndpointRecordSchema.safeParse(JSON.parse(v));
        if (r.success) out.push(r.data);
      } catch {
        // a malformed record is skipped; the endpoint rewrites it within seconds
      }
    }
    return out;
  }

  async tick(now = Date.now()): Promise<void> {
    const list = buildEndpointList(await this.readRegistry(), new Date(now));
    const set = endpointSetKey(list);
    if (set === this.lastSet && now - this.lastWrite < this.o.intervalMs) return;
    const json = JSON.stringify(list);
    await this.o.redis.set(this.o.keys.endpointList, json);
    try {
      await this.o.target.put(ENDPOINT_LIST_FILE, Buffer.from(json), 'application/json');
    } catch (err) {
      if (now - this.lastFailLog > 30_000) {
        this.lastFailLog = now;
        this.o.log.warn({ err: (err as Error).message }, 'could not write endpoints.json; retrying');
      }
      return; // lastSet unchanged: the next tick tries again
    }
    if (set !== this.lastSet) {
      this.o.log.info(
        { endpoints: list.endpoints.length, target: this.o.target.url },
        'endpoint list changed; endpoints.json written',
      );
    }
    this.lastSet = set;
    this.lastWrite = now;
    this.current = list;
    this.writes++;
  }
}
