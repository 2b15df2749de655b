// The keeper's /metrics and /readyz: the Archiver's and Notifier's counters read at scrape time, archive
// latency once per object written, and the consumer group's backlog read from Redis (XINFO GROUPS) on a timer.
import type { Redis } from 'ioredis';
import { KEEPER_GROUP, type RedisContract } from '../../protocol/redis-contract.ts';
import type { ReadyChecks } from '../runtime/admin.ts';
import type { RoleMetrics } from '../runtime/metrics.ts';
import type { Archiver } from './archiver.ts';
import type { Notifier } from './notifier.ts';
import type { Spool } from './spool.ts';

export interface KeeperParts {
  archiver: Archiver;
  notifier: Notifier;
  spool: Spool;
}

/** The keepers' group backlog: entries delivered and not acknowledged, and entries not yet delivered. */
export class GroupBacklog {
  pending = 0;
  lag = 0;
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisContract,
  ) {}

  async read(): Promise<void> {
    const groups = (await this.redis.xinfo('GROUPS', this.keys.logStream)) as unknown[][];
    for (const g of groups) {
      const f: Record<string, unknown> = {};
      for (let i = 0; i + 1 < g.length; i += 2) f[String(g[i])] = g[i + 1];
      if (f.name !== KEEPER_GROUP) continue;
      this.pending = Number(f.pending) || 0;
      // Redis ≥ 7 reports `lag`; null when it cannot tell (then the last value stays)
      if (f.lag !== null && f.lag !== undefined) this.lag = Number(f.lag) || 0;
    }
  }
}

export function wireKeeperMetrics(m: RoleMetrics, p: KeeperParts, backlog: GroupBacklog): void {
  const { archiver, notifier, spool } = p;
  m.source('filmgrain_keeper_lines_read_total', () => archiver.read)
    .source('filmgrain_keeper_lines_archived_total', () => archiver.archived)
    .source('filmgrain_keeper_lines_spooled_total', () => archiver.spooled)
    .source('filmgrain_keeper_duplicates_dropped_total', () => archiver.dedupe.dropped)
    .source('filmgrain_keeper_archive_failures_total', () => archiver.failures)
    .source('filmgrain_keeper_spool_bytes', () => spool.bytes)
    .source('filmgrain_keeper_group_pending', () => backlog.pending)
    .source('filmgrain_keeper_group_lag', () => backlog.lag)
    .source('filmgrain_keeper_alerts_sent_total', () => notifier.sentBy)
    .source('filmgrain_keeper_archive_up', () => (archiver.targetDown || archiver.failing.since ? 0 : 1));
  const latency = m.histogram('filmgrain_keeper_archive_latency_seconds');
  archiver.onStored = (s) => latency.observe(s);
}

/** Ready: the archive target takes writes (otherwise the keeper only spools). */
export function keeperReady(archiver: Archiver, target: string): ReadyChecks {
  if (!archiver.targetDown) return { archive: { ok: true } };
  const { error } = archiver.failing;
  return { archive: { ok: false, why: `archive target ${target} unreachable: ${error || 'writes fail'}` } };
}
