// Drain before down: the endpoints a `god down` takes away are told to drain (they mark their registry record
// draining, so they leave endpoints.json and redirect new clients, and send each client `reconnect` to another
// endpoint), then God waits, bounded, until their records hold no clients. Only then does the provider stop the
// processes (and terminate the instances). It goes through Redis, so it is the same for every provider.
import type { ControlMessage } from '../../protocol/redis-contract.ts';
import { UserError } from '../../kernel/errors.ts';
import { defineOptions, type OptionValues, readBool, resolveOptions } from '../../kernel/options.ts';
import { sleep } from '../../kernel/sleep.ts';
import { durationMs } from '../../kernel/units.ts';
import { listEndpoints } from './endpoints.ts';
import type { EventSink } from './events.ts';
import type { ExpectedProcess } from './providers/types.ts';
import type { FleetRedis } from './redis.ts';

/**
 * How a down treats endpoints: the one owner of these options, taken by `god down` (flags and GOD_* env vars),
 * the dashboard's down keys (GOD_DRAIN_TIMEOUT; force is the key: `X`) and the playbook `down` step
 * (`force`, `drain_timeout`).
 */
export const DOWN_OPTIONS = defineOptions({
  force: {
    flag: '--force',
    env: 'GOD_FORCE',
    description: 'stop endpoints without draining them first, and the last endpoint without asking',
  },
  drainTimeout: {
    flag: '--drain-timeout <duration>',
    env: 'GOD_DRAIN_TIMEOUT',
    description: "how long to wait for a draining endpoint's clients to move before stopping it anyway",
    schema: durationMs,
    default: '60s',
  },
});
export type DownFlags = OptionValues<typeof DOWN_OPTIONS>;

/**
 * DOWN_OPTIONS from values given (`given`: a playbook step's arguments), else their env vars (`env`), else the
 * defaults; a bad value is a usage error naming where it came from.
 */
export function downFlags(
  given: { force?: boolean; drainTimeout?: string | number } = {},
  env: NodeJS.ProcessEnv = {},
): DownFlags {
  const raw: Record<string, unknown> = {};
  const source: Record<string, string> = {};
  for (const [key, o] of Object.entries(DOWN_OPTIONS)) {
    const v = given[key as keyof typeof given];
    const text = env[o.env];
    if (v !== undefined) [raw[key], source[key]] = [v, 'given'];
    else if (text !== undefined)
      [raw[key], source[key]] = [o.flag.includes('<') ? text : readBool(text), 'env'];
  }
  const { values, problems } = resolveOptions(DOWN_OPTIONS, raw, (k) => source[k]);
  const p = problems[0];
  if (p) {
    throw new UserError(`${p.source === 'env' ? p.env : p.flag} ${p.shown ?? ''}: ${p.message}`, {
      code: 'GOD_USAGE',
      hint: 'Give the drain timeout as a duration, e.g. 30s or 2m.',
    });
  }
  return values;
}

const waited = (ms: number) => (ms < 10_000 ? `${ms} ms` : `${Math.round(ms / 1000)} s`);

/** What drainBeforeDown needs, from the down options and where Redis and an answer come from. */
export function drainOptions(
  flags: DownFlags,
  deps: Pick<DrainOptions, 'redis' | 'confirmLast' | 'signal'>,
): DrainOptions {
  return { ...deps, timeoutMs: flags.drainTimeout, force: flags.force };
}

export interface DrainOptions {
  redis: () => Promise<FleetRedis>;
  /** longest wait for the endpoints to hold no clients; then they are stopped anyway (their own stop moves the rest) */
  timeoutMs: number;
  /** skip the drain and the last-endpoint question */
  force: boolean;
  /**
   * Asked before the last endpoints go down (nowhere to move their clients). Absent: a non-interactive run,
   * which refuses.
   */
  confirmLast?: (ids: string[]) => Promise<boolean>;
  signal?: AbortSignal;
  /** how often the registry is read while waiting (default 250 ms) */
  pollMs?: number;
}

export interface DrainOutcome {
  /** endpoints that held no clients before they were stopped */
  drained: string[];
  /** endpoints that still held clients when the wait ended (stopped anyway) */
  timed_out: string[];
}

/**
 * Drain the endpoints among `going` (the processes a down stops) unless nothing would be left to take their
 * clients: then ask (`confirmLast`) or refuse. `all`: every process the fleet expects now.
 */
export async function drainBeforeDown(
  going: ExpectedProcess[],
  all: ExpectedProcess[],
  o: DrainOptions,
  events: EventSink,
): Promise<DrainOutcome> {
  const none: DrainOutcome = { drained: [], timed_out: [] };
  const ids = going.filter((p) => p.role === 'endpoint').map((p) => p.id);
  if (ids.length === 0 || o.force) return none;
  const staying = all.filter((p) => p.role === 'endpoint' && !ids.includes(p.id));
  if (staying.length === 0) {
    const list = ids.join(', ');
    if (!o.confirmLast) {
      throw new UserError(
        `${list} ${ids.length > 1 ? 'are' : 'is'} the last endpoint(s): down would leave clients nowhere to go`,
        {
          code: 'GOD_LAST_ENDPOINT',
          hint: 'Start another endpoint first (`god up endpoint -n N`), or pass --force to take it down anyway.',
        },
      );
    }
    if (!(await o.confirmLast(ids))) {
      throw new UserError(`not taking down ${list}: the last endpoint(s)`, {
        code: 'GOD_CANCELLED',
        hint: 'Nothing was changed. Pass --force to skip the question.',
      });
    }
    return none; // confirmed: nowhere to drain to, the stop itself closes the clients
  }

  let fr: FleetRedis;
  try {
    fr = await o.redis();
  } catch (err) {
    throw new UserError(
      `cannot drain ${ids.join(', ')}: the fleet's Redis is not reachable (${(err as Error).message})`,
      {
        code: 'GOD_UNREACHABLE',
        hint: 'Check redis.url / --redis, or pass --force to stop without draining.',
      },
    );
  }
  const before = await listEndpoints(fr);
  if (!before.endpoints.some((e) => e.healthy && !ids.includes(e.id))) {
    events.emit({
      type: 'warn',
      message: `no other endpoint is healthy in the registry: ${ids.join(', ')} keep their clients until stopped`,
      hint: '`god endpoints` shows the registry; start or fix another endpoint to move clients without a drop.',
    });
  }
  const start = new Map<string, number>();
  const waiting = new Set<string>();
  const msg: ControlMessage = { cmd: 'drain' };
  for (const id of ids) {
    const rec = before.endpoints.find((e) => e.id === id);
    const receivers = await fr.redis.publish(fr.keys.control('endpoint', id), JSON.stringify(msg));
    if (!rec || receivers === 0) {
      // not running or not listening: it holds no client God could move
      events.emit({ type: 'host', step: 'drain', host: id, phase: 'end', ok: true, detail: 'not serving' });
      continue;
    }
    start.set(id, rec.clients);
    waiting.add(id);
    events.emit({
      type: 'host',
      step: 'drain',
      host: id,
      phase: 'start',
      detail: `${rec.clients} clients`,
      data: { clients: rec.clients, of: rec.clients },
    });
  }

  const t0 = Date.now();
  const left = new Map<string, number>();
  const drained: string[] = ids.filter((id) => !waiting.has(id));
  while (waiting.size > 0 && Date.now() - t0 < o.timeoutMs && !o.signal?.aborted) {
    await sleep(o.pollMs ?? 250);
    const now = await listEndpoints(fr).catch(() => undefined);
    if (!now) continue; // Redis blinked: try again until the bound
    for (const id of [...waiting]) {
      const rec = now.endpoints.find((e) => e.id === id);
      const clients = rec?.clients ?? 0;
      const of = start.get(id) ?? 0;
      // done once the record says draining with no clients (or is gone: the process ended)
      if (!rec || (rec.draining && clients === 0)) {
        waiting.delete(id);
        drained.push(id);
        events.emit({
          type: 'host',
          step: 'drain',
          host: id,
          phase: 'end',
          ok: true,
          ms: Date.now() - t0,
          detail: `${of} clients moved`,
          data: { clients: 0, of },
        });
      } else if (left.get(id) !== clients) {
        left.set(id, clients);
        events.emit({
          type: 'host',
          step: 'drain',
          host: id,
          phase: 'progress',
          progress: of > 0 ? Math.min(1, Math.max(0, 1 - clients / of)) : 0,
          detail: `${clients} clients left`,
          data: { clients, of },
        });
      }
    }
  }
  const timedOut = [...waiting];
  for (const id of timedOut) {
    const clients = left.get(id) ?? start.get(id) ?? 0;
    events.emit({
      type: 'host',
      step: 'drain',
      host: id,
      phase: 'end',
      ok: false,
      ms: Date.now() - t0,
      error: `${clients} clients still connected after ${waited(o.timeoutMs)} (--drain-timeout); stopping it anyway (its stop sends them elsewhere)`,
      data: { clients, of: start.get(id) ?? 0 },
    });
  }
  return { drained, timed_out: timedOut };
}
