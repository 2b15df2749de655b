// Prometheus `file_sd` targets for the fleet: every live process that runs an admin listener (its heartbeat
// names the address), labelled by role, process id, host and release (protocol/metrics.ts TARGET_LABELS).
// Written next to endpoints.json, to the same archive target, by the same owner (the keeper's timer), at once
// when the set of targets changes: point Prometheus's `file_sd_configs` at it.
import type { Redis } from 'ioredis';
import type { ArchiveTarget } from './archive-target.ts';
import { readHeartbeats } from './heartbeats.ts';
import type { TARGET_LABELS } from './metrics.ts';
import type { Heartbeat, RedisContract } from './redis-contract.ts';

export const PROM_TARGETS_FILE = 'prometheus-targets.json';

type TargetLabel = (typeof TARGET_LABELS)[number];
export interface PromTargetGroup {
  targets: string[];
  labels: Record<TargetLabel, string>;
}

/** One group per process with an admin address, sorted so that an unchanged fleet gives the same bytes. */
export function buildPromTargets(beats: readonly Heartbeat[]): PromTargetGroup[] {
  return beats
    .filter((hb): hb is Heartbeat & { admin: string } => typeof hb.admin === 'string' && hb.admin.length > 0)
    .map((hb) => ({
      targets: [hb.admin],
      labels: { role: hb.role, process: hb.id, host: hb.host, release: hb.version },
    }))
    .sort((a, b) => (a.labels.process < b.labels.process ? -1 : a.labels.process > b.labels.process ? 1 : 0));
}

export interface PromTargetsWriterOptions {
  redis: Redis;
  keys: RedisContract;
  target: ArchiveTarget;
}

export class PromTargetsWriter {
  private last?: string;
  writes = 0;

  constructor(private readonly o: PromTargetsWriterOptions) {}

  /** Write the file when the live set changed since the last successful write (a failed write is retried). */
  async tick(): Promise<boolean> {
    const json = `${JSON.stringify(buildPromTargets(await readHeartbeats(this.o.redis, this.o.keys)), null, 1)}\n`;
    if (json === this.last) return false;
    await this.o.target.put(PROM_TARGETS_FILE, Buffer.from(json), 'application/json');
    this.last = json;
    this.writes++;
    return true;
  }
}
