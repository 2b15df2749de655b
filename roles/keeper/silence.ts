// Silence alerts. "Logs stop flowing" means: no line from any role other than keeper for --silence.
// Keeper lines do not count — keepers log about their own work (archived objects, alerts), so counting them
// would hide a dead fleet behind a live keeper; when only keepers are alive, that IS the silence to report.
// Nothing is armed until some non-keeper line has been seen (a keeper started before the fleet stays quiet).
//
// Keepers share the view through Redis: each records the newest entry time per source in a zset (ZADD GT),
// and the open/closed state is one key (SET NX opens and sends the SMS, GETDEL closes and sends the
// recovery), so two keepers send one SMS per transition and a flapping fleet cannot cause a storm.
import type { Redis } from 'ioredis';
import type { RedisContract } from '../../protocol/redis-contract.ts';
import type { Logger } from '../runtime/logger.ts';
import type { StreamEntry } from './archive-format.ts';
import type { Notifier } from './notifier.ts';

export interface SilenceOptions {
  redis: Redis;
  keys: RedisContract;
  silenceMs: number;
  notifier: Notifier;
  log: Logger;
  /** false while our view may be stale (lagging behind the stream head, reading paused) */
  upToDate: () => boolean;
}

const SOURCES_SHOWN = 5;
const FORGET_AFTER_MS = 24 * 3600_000;

export class SilenceMonitor {
  private latest = new Map<string, number>();
  private lastPrune = 0;
  silent = false;

  constructor(private readonly o: SilenceOptions) {}

  observe(entries: StreamEntry[]): void {
    for (const e of entries) {
      if (e.role === 'keeper') continue;
      const ms = entryMs(e.id);
      const src = `${e.role}|${e.proc}|${e.host}`;
      if (ms > (this.latest.get(src) ?? 0)) this.latest.set(src, ms);
    }
  }

  async tick(): Promise<void> {
    const { redis, keys } = this.o;
    if (this.latest.size) {
      const args: Array<string | number> = [];
      const taken = this.latest;
      this.latest = new Map();
      for (const [src, ms] of taken) args.push(ms, src);
      try {
        await redis.zadd(keys.keeperLastSpoke, 'GT', ...args);
      } catch (err) {
        for (const [src, ms] of taken) if (ms > (this.latest.get(src) ?? 0)) this.latest.set(src, ms);
        throw err;
      }
    }
    // Redis time: entry ids are stamped by Redis, so no skew between this host's clock and theirs
    const [sec, usec] = await redis.time();
    const now = Number(sec) * 1000 + Math.floor(Number(usec) / 1000);
    if (now - this.lastPrune > 60_000) {
      this.lastPrune = now;
      await redis.zremrangebyscore(keys.keeperLastSpoke, 0, now - FORGET_AFTER_MS);
    }
    const top = await redis.zrevrange(keys.keeperLastSpoke, 0, SOURCES_SHOWN - 1, 'WITHSCORES');
    if (top.length === 0) return; // nothing heard yet: not armed
    const sources: Array<{ src: string; ms: number }> = [];
    for (let i = 0; i + 1 < top.length; i += 2) sources.push({ src: top[i]!, ms: Number(top[i + 1]) });
    const lastMs = sources[0]!.ms;
    const quietMs = now - lastMs;
    if (quietMs > this.o.silenceMs) {
      if (!this.o.upToDate()) return;
      const opened = await redis.set(keys.keeperSilence, JSON.stringify({ since: lastMs }), 'NX');
      this.silent = true;
      if (opened !== 'OK') return; // already open (another keeper, or us earlier)
      const total = await redis.zcard(keys.keeperLastSpoke);
      await this.o.notifier.send({
        kind: 'silence',
        subject: `Filmgrain: no logs for ${fmtDuration(quietMs)}`,
        text:
          `No role has logged since ${iso(lastMs)}. Last heard:\n` +
          sources.map((s) => `- ${describeSource(s.src)} at ${iso(s.ms)}`).join('\n') +
          (total > sources.length ? `\n(+${total - sources.length} more sources)` : ''),
      });
    } else {
      this.silent = false;
      const prev = await redis.getdel(keys.keeperSilence);
      if (!prev) return;
      let since = lastMs;
      try {
        since = Number((JSON.parse(prev) as { since: number }).since) || lastMs;
      } catch {
        // a hand-written value: report without the duration
      }
      const back = sources.filter((s) => s.ms > since);
      const firstBack = Math.min(...back.map((s) => s.ms), lastMs);
      await this.o.notifier.send({
        kind: 'recovered',
        subject: `Filmgrain: logs flowing again after ${fmtDuration(Math.max(0, firstBack - since))} of silence`,
        text: `Logging again:\n${(back.length ? back : sources.slice(0, 1)).map((s) => `- ${describeSource(s.src)} at ${iso(s.ms)}`).join('\n')}`,
      });
    }
  }
}

export function entryMs(id: string): number {
  const i = id.indexOf('-');
  return Number(i < 0 ? id : id.slice(0, i));
}

function describeSource(src: string): string {
  const [role, id, host] = src.split('|');
  return `${role} ${id} on ${host}`;
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
}

export function fmtDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
