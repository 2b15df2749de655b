// Silence alerts, per role. Every long-running role logs a summary line at least every --summary-interval
// (below --silence), so a role that is heard at all logs steadily; "silent" means: no line from a role other
// than keeper for --silence. Keeper lines do not count — keepers log about their own work (archived objects,
// alerts), so counting them would hide a dead fleet behind a live keeper. Per role, not for the fleet as a
// whole: a stopped feeder is reported while the endpoints keep logging. (Per role, not per process: a process
// replaced under a new id is no silence; `god status` shows processes that went missing.) Nothing is armed for
// a role until one of its lines has been seen (a keeper started before the fleet stays quiet).
//
// Keepers share the view through Redis: each records the newest entry time per source in a zset (ZADD GT),
// and the open/closed state is one key per role (SET NX opens it, GETDEL closes it), so two keepers send one
// SMS per transition. Roles that fall silent together (the whole fleet, or Redis away) go into one SMS: a
// role about to cross the threshold before the next check is included with the ones that crossed it.
import type { Redis } from 'ioredis';
import type { RedisContract } from '../../protocol/redis-contract.ts';
import type { Logger } from '../runtime/logger.ts';
import type { StreamEntry } from '../../protocol/archive-format.ts';
import type { Notifier } from './notifier.ts';
import { formatDuration as fmtDuration } from '../../kernel/units.ts';

export interface SilenceOptions {
  redis: Redis;
  keys: RedisContract;
  silenceMs: number;
  /** how often tick() runs: roles within this of the threshold join an alert being sent */
  checkEveryMs?: number;
  notifier: Notifier;
  log: Logger;
  /** false while our view may be stale (lagging behind the stream head, reading paused) */
  upToDate: () => boolean;
}

const SOURCES_SHOWN = 5;
const FORGET_AFTER_MS = 24 * 3600_000;

interface RoleView {
  role: string;
  last: number;
  /** newest first */
  sources: Array<{ src: string; ms: number }>;
  total: number;
}

export class SilenceMonitor {
  private latest = new Map<string, number>();
  private lastPrune = 0;
  /** some role is silent (as this keeper last saw it) */
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
    const { redis, keys, silenceMs } = this.o;
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
    const flat = await redis.zrevrange(keys.keeperLastSpoke, 0, -1, 'WITHSCORES');
    if (flat.length === 0) return; // nothing heard yet: not armed
    const roles = new Map<string, RoleView>();
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const src = flat[i]!;
      const ms = Number(flat[i + 1]);
      const role = src.slice(0, src.indexOf('|'));
      let v = roles.get(role);
      if (!v) roles.set(role, (v = { role, last: ms, sources: [], total: 0 }));
      v.total++;
      if (v.sources.length < SOURCES_SHOWN) v.sources.push({ src, ms });
    }
    const views = [...roles.values()];
    const grace = this.o.checkEveryMs ?? 1000;
    const quiet = views.filter((v) => now - v.last > silenceMs);
    const speaking = views.filter((v) => now - v.last <= silenceMs);
    this.silent = quiet.length > 0;

    if (quiet.length && this.o.upToDate()) {
      const due = views.filter((v) => now - v.last > silenceMs - grace);
      const p = redis.pipeline();
      for (const v of due) p.set(keys.keeperSilence(v.role), JSON.stringify({ since: v.last }), 'NX');
      const res = (await p.exec()) ?? [];
      const opened = due.filter((_, i) => res[i]?.[1] === 'OK');
      if (opened.length) {
        const lastMs = Math.max(...opened.map((v) => v.last));
        const names = opened.map((v) => v.role).join(', ');
        await this.o.notifier.send({
          kind: 'silence',
          subject: `Filmgrain: no logs from ${names} for ${fmtDuration(now - lastMs)}`,
          text:
            `No ${names} process has logged since ${iso(lastMs)}. Last heard:\n` +
            opened
              .flatMap((v) => [
                ...v.sources.map((s) => `- ${describeSource(s.src)} at ${iso(s.ms)}`),
                ...(v.total > v.sources.length
                  ? [`(+${v.total - v.sources.length} more ${v.role} sources)`]
                  : []),
              ])
              .join('\n'),
        });
      }
    }

    if (!speaking.length) return;
    const p = redis.pipeline();
    for (const v of speaking) p.getdel(keys.keeperSilence(v.role));
    const res = (await p.exec()) ?? [];
    const back: Array<{ view: RoleView; since: number }> = [];
    speaking.forEach((v, i) => {
      const prev = res[i]?.[1];
      if (typeof prev !== 'string') return;
      let since = v.last;
      try {
        since = Number((JSON.parse(prev) as { since: number }).since) || v.last;
      } catch {
        // a hand-written value: report without the duration
      }
      back.push({ view: v, since });
    });
    if (!back.length) return;
    const lines: string[] = [];
    let gap = 0;
    for (const { view, since } of back) {
      const again = view.sources.filter((s) => s.ms > since);
      const first = Math.min(...again.map((s) => s.ms), view.last);
      gap = Math.max(gap, first - since);
      for (const s of again.length ? again : view.sources.slice(0, 1))
        lines.push(`- ${describeSource(s.src)} at ${iso(s.ms)}`);
    }
    await this.o.notifier.send({
      kind: 'recovered',
      subject: `Filmgrain: ${back.map((b) => b.view.role).join(', ')} logs flowing again after ${fmtDuration(Math.max(0, gap))} of silence`,
      text: `Logging again:\n${lines.join('\n')}`,
    });
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
