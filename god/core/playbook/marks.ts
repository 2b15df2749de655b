// Points in a play on one clock, the fleet Redis's: its TIME and the log stream's last entry id, taken as the
// play starts and as named steps start and end. Checks compare stream ids (which Redis assigns from its own
// clock) with these, never with this machine's clock.
import type { FleetRedis } from '../redis.ts';
import type { PlayContext } from './context.ts';
import type { Mark, Playbook, Step } from './schema.ts';

export interface PointMark {
  /** Redis TIME, epoch ms */
  ms: number;
  /** the log stream's last entry id then ('0-0': the stream was empty) */
  logId: string;
  /** the alerts stream's last entry id then: an alert in the same millisecond is still before or after */
  alertId: string;
}

/** Marks a play records: the play's start, and the start/end of steps that later steps name. */
export interface MarkNeeds {
  play: boolean;
  before: Set<number>;
  after: Set<number>;
}

export async function takeMark(fr: FleetRedis): Promise<PointMark> {
  const res = await fr.redis
    .multi()
    .time()
    .xrevrange(fr.keys.logStream, '+', '-', 'COUNT', 1)
    .xrevrange(fr.keys.alerts, '+', '-', 'COUNT', 1)
    .exec();
  if (!res) throw new Error('could not read the time and the log stream from Redis');
  for (const [err] of res) if (err) throw err;
  const [sec, usec] = res[0]![1] as [string, string];
  const last = res[1]![1] as Array<[string, string[]]>;
  const alert = res[2]![1] as Array<[string, string[]]>;
  return {
    ms: Number(sec) * 1000 + Math.floor(Number(usec) / 1000),
    logId: last[0]?.[0] ?? '0-0',
    alertId: alert[0]?.[0] ?? '0-0',
  };
}

/** The index of the earlier step called `name` (validation made sure there is exactly one). */
export function stepByName(steps: Step[], before: number, name: string): Step | undefined {
  return steps.filter((s) => s.index < before && s.name === name).at(-1);
}

/** Which marks the play's checks refer to, so only those cost a Redis round trip. */
export function markNeeds(pb: Playbook): MarkNeeds {
  const needs: MarkNeeds = { play: false, before: new Set(), after: new Set() };
  const note = (m: Mark | string | undefined, at: number) => {
    if (m === 'play') needs.play = true;
    else if (m && typeof m === 'object') {
      const s = stepByName(pb.steps, at, 'before' in m ? m.before : m.after);
      if (s) ('before' in m ? needs.before : needs.after).add(s.index);
    }
  };
  for (const s of pb.steps) {
    if (s.kind !== 'wait' && s.kind !== 'assert') continue;
    const c = s.args;
    if (c.no_alerts) note(c.no_alerts === true ? 'play' : c.no_alerts.since, s.index);
    if (c.alerts) note(c.alerts.since, s.index);
    if (c.logs_archived) {
      note(c.logs_archived.until, s.index);
      if (c.logs_archived.since !== 'stream') note(c.logs_archived.since, s.index);
    }
  }
  return needs;
}

/**
 * A mark of the running step. `step` is taken on first use and kept in `memo` (a `wait` polls many times but
 * started once). `play` when the fleet's Redis was unreachable as the play began (a local fleet the play
 * itself starts) is the beginning of time: everything that Redis holds came after.
 */
export async function resolveMark(pc: PlayContext, m: Mark, memo: Map<string, unknown>): Promise<PointMark> {
  if (m === 'step') {
    let mk = memo.get('mark:step') as PointMark | undefined;
    if (!mk) {
      mk = await takeMark(await pc.redis());
      memo.set('mark:step', mk);
    }
    return mk;
  }
  if (m === 'play') return pc.marks.play ?? { ms: 0, logId: '0-0', alertId: '0-0' };
  const before = 'before' in m;
  const name = before ? m.before : m.after;
  const s = stepByName(pc.steps, pc.current ?? Number.POSITIVE_INFINITY, name);
  if (!s) throw new Error(`no earlier step is called "${name}"`);
  const mk = pc.marks.steps.get(s.index)?.[before ? 'start' : 'end'];
  if (!mk) {
    throw new Error(
      `step ${s.index} (${name}) left no mark as it ${before ? 'started' : 'ended'}: it was skipped, or the fleet's Redis was unreachable then`,
    );
  }
  return mk;
}

export function describeMark(m: Mark | 'stream'): string {
  if (m === 'stream') return 'the oldest line in the stream';
  if (m === 'play') return 'the play started';
  if (m === 'step') return 'this step started';
  return 'before' in m ? `"${m.before}" started` : `"${m.after}" ended`;
}
