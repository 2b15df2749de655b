// The endpoint registry: this endpoint's record (refreshed with a TTL, so a dead endpoint disappears by itself)
// and the view of the others, used to send clients elsewhere (soft limit, shed, drain).
import type { Redis } from 'ioredis';
import {
  ENDPOINT_TTL_S,
  type EndpointRecord,
  EndpointRecordSchema,
  type RedisContract,
} from '../../protocol/redis-contract.ts';
import { queueEndpointRecord } from '../../protocol/redis-writes.ts';

/** Index members not refreshed for this long are pruned. */
const PRUNE_AFTER_MS = 3600_000;
/** How often an unlisted endpoint looks for its admission, so it is listed soon after God admits it. */
export const ADMISSION_POLL_MS = 200;

/** --unlisted: listed only while God's admission (keys.endpointAdmitted) names this release. */
export interface Admission {
  version: string;
}

export class Registry {
  /** the other live endpoints, as of the last refresh */
  peers: EndpointRecord[] = [];
  /** clients sent to each peer since the last refresh (their records do not count them yet) */
  private readonly assigned = new Map<string, number>();
  private removed = false;
  /** records written (issued) so far */
  writes = 0;
  /** our record is in the registry (as of the last beat) */
  listed = false;

  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisContract,
    private readonly self: () => EndpointRecord,
    private readonly admission?: Admission,
  ) {}

  /** Unlisted: whether God has admitted this endpoint at its release (read each beat: it can be withdrawn). */
  async admitted(): Promise<boolean> {
    if (!this.admission) return true;
    const v = await this.redis.hget(this.keys.endpointAdmitted, this.self().id);
    return v === this.admission.version;
  }

  /** Write our record (when admitted) and re-read the others. */
  async beat(): Promise<void> {
    if (this.redis.status !== 'ready') return;
    if (!this.removed) {
      // a listed endpoint writes at once (no await first): on 'ready' after a Redis restart the record is the
      // first command, so clients are not redirected away from us meanwhile
      if (!this.admission || (await this.admitted())) {
        const p = this.redis.multi();
        queueEndpointRecord(p, this.keys, this.self());
        this.writes++;
        await p.exec();
        this.listed = true;
      } else if (this.listed) {
        await this.unlist();
      }
    }
    await this.refresh();
  }

  /**
   * Unlisted and not yet admitted: poll for the admission and call `onAdmitted` once it is there (then the
   * regular beats take over). Returns the stop.
   */
  watchAdmission(onAdmitted: () => void): () => void {
    if (!this.admission) return () => {};
    let busy = false;
    const t = setInterval(() => {
      if (busy || this.listed || this.removed || this.redis.status !== 'ready') return;
      busy = true;
      this.admitted()
        .then((ok) => ok && onAdmitted())
        .catch(() => {})
        .finally(() => {
          busy = false;
        });
    }, ADMISSION_POLL_MS);
    t.unref();
    return () => clearInterval(t);
  }

  private async unlist(): Promise<void> {
    const me = this.self();
    await this.redis.multi().del(this.keys.endpoint(me.id)).zrem(this.keys.endpointIndex, me.id).exec();
    this.listed = false;
  }

  async refresh(): Promise<EndpointRecord[]> {
    const me = this.self();
    const ids = await this.redis.zrange(this.keys.endpointIndex, 0, '-1');
    const others = ids.filter((id) => id !== me.id);
    const vals = others.length ? await this.redis.mget(others.map((id) => this.keys.endpoint(id))) : [];
    const fresh = Date.now() - ENDPOINT_TTL_S * 1000;
    const peers: EndpointRecord[] = [];
    for (const v of vals) {
      if (!v) continue;
      let rec: EndpointRecord;
      try {
        rec = EndpointRecordSchema.parse(JSON.parse(v));
      } catch {
        continue;
      }
      // An earlier incarnation of this endpoint (same address, other id) is not another endpoint.
      if (rec.host === me.host && rec.port === me.port) continue;
      if (Date.parse(rec.at) < fresh) continue;
      peers.push(rec);
    }
    this.peers = peers;
    this.assigned.clear();
    void this.redis.zremrangebyscore(this.keys.endpointIndex, 0, Date.now() - PRUNE_AFTER_MS).catch(() => {});
    return peers;
  }

  private load(p: EndpointRecord): number {
    return p.clients + (this.assigned.get(p.id) ?? 0);
  }

  /** The least loaded healthy peer that is below its own soft limit (so a redirect never bounces on), or none. */
  pickRedirect(): EndpointRecord | undefined {
    let best: EndpointRecord | undefined;
    let bestRatio = Number.POSITIVE_INFINITY;
    for (const p of this.peers) {
      if (p.draining) continue;
      const load = this.load(p);
      if (load >= p.soft_limit) continue;
      const ratio = load / Math.max(1, p.soft_limit);
      if (ratio < bestRatio) {
        best = p;
        bestRatio = ratio;
      }
    }
    if (best) this.assigned.set(best.id, (this.assigned.get(best.id) ?? 0) + 1);
    return best;
  }

  /** Targets for `n` clients leaving this endpoint, spread over the healthy peers by free capacity. */
  spread(n: number): EndpointRecord[] {
    const peers = this.peers.filter((p) => !p.draining);
    if (peers.length === 0) return [];
    const free = peers.map((p) => Math.max(0, p.capacity - this.load(p)));
    const out: EndpointRecord[] = [];
    for (let i = 0; i < n; i++) {
      // the peer with the most room left takes the next client (round-robin once they are even)
      let k = 0;
      for (let j = 1; j < peers.length; j++) if (free[j]! > free[k]!) k = j;
      free[k] = free[k]! - 1;
      out.push(peers[k]!);
      this.assigned.set(peers[k]!.id, (this.assigned.get(peers[k]!.id) ?? 0) + 1);
    }
    return out;
  }

  async remove(): Promise<void> {
    this.removed = true;
    await this.unlist().catch(() => {});
  }
}
