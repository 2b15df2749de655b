// Each check of `wait`/`assert` (conditions.ts) against real parts, without a fleet: a real redis-server with
// heartbeats, alerts and registry records written by hand (a live process keeps beating, a dead one's
// heartbeat is left as it was), a folder archive written with the keeper's own object format, in-process
// endpoints for the protocol clients, and the MemoryProvider as the fleet's expected list. Fast, so it is also
// what Stryker runs against the conditions, their schema and the check kinds (stryker.config.mjs).
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../god/core/config/load.ts';
import type { GodEvent } from '../../god/core/events.ts';
import { addrKey } from '../../god/core/playbook/clients.ts';
import {
  CHECK_HINTS,
  CHECK_NAMES,
  CONDITIONS_HINT,
  type Conditions,
  ConditionsSchema,
} from '../../god/core/playbook/conditions-schema.ts';
import {
  type CheckMemo,
  closeMemo,
  describeConditions,
  evaluate,
} from '../../god/core/playbook/conditions.ts';
import type { PlayContext, TargetedProcess } from '../../god/core/playbook/context.ts';
import { assert as assertKind } from '../../god/core/playbook/kinds/assert.ts';
import { checkOnce } from '../../god/core/playbook/kinds/checks.ts';
import { wait as waitKind } from '../../god/core/playbook/kinds/wait.ts';
import { takeMark } from '../../god/core/playbook/marks.ts';
import type { Step } from '../../god/core/playbook/schema.ts';
import { connectFleetRedis, type FleetRedis } from '../../god/core/redis.ts';
import { UserError } from '../../kernel/errors.ts';
import { buildObject } from '../../protocol/archive-format.ts';
import { buildEndpointList } from '../../protocol/endpoint-list.ts';
import { queueHeartbeat } from '../../protocol/heartbeats.ts';
import {
  ENDPOINT_TTL_S,
  type EndpointRecord,
  HEARTBEAT_TTL_S,
  type Heartbeat,
  type Role,
} from '../../protocol/redis-contract.ts';
import { startEndpoint, type StartedEndpoint } from '../endpoint/helpers.ts';
import { MemoryProvider } from '../harness/fake-provider.ts';
import { makeTempDir, useRedis, waitFor } from '../harness/index.ts';
import { xaddLines } from '../keeper/helpers.ts';

const server = useRedis();
const opened: FleetRedis[] = [];
const beaters: Array<ReturnType<typeof setInterval>> = [];
afterEach(() => {
  for (const t of beaters.splice(0)) clearInterval(t);
});
afterAll(() => {
  for (const fr of opened) fr.close();
});

let seq = 0;
/** What the runner hands a step, on a fresh key prefix, with the MemoryProvider's fleet as the expected list. */
async function ctx(running: Partial<Record<Role, number>> = {}) {
  const fr = await connectFleetRedis(server().url, { prefix: `cu${++seq}:` });
  opened.push(fr);
  const events: GodEvent[] = [];
  const cwd = makeTempDir('cond-units');
  const pc: PlayContext = {
    provider: new MemoryProvider({ running }),
    config: defaultConfig(),
    events: { emit: (e) => events.push(e) },
    dryRun: false,
    env: {},
    cwd,
    startedAt: Date.now(),
    redis: async () => fr,
    tryRedis: async () => fr,
    pool: () => {
      throw new Error('no SSH here');
    },
    clients: new Map(),
    steps: [],
    marks: { steps: new Map() },
    targeted: new Map(),
  };
  return { pc, fr, events, cwd };
}

const parse = (c: unknown): Conditions => ConditionsSchema.parse(c);
/** One evaluation with its own memo (an `assert`). */
async function once(pc: PlayContext, c: unknown) {
  const memo: CheckMemo = new Map();
  try {
    return await evaluate(pc, parse(c), memo, 5000);
  } finally {
    closeMemo(memo);
  }
}

// ---- heartbeats ----

function hb(role: Role, id: string, o: Partial<Heartbeat> = {}): Heartbeat {
  return {
    role,
    id,
    host: 'memory',
    pid: 100,
    version: 'v2',
    started_at: '2026-01-01T00:00:00.000Z',
    at: new Date().toISOString(),
    rss: 1,
    cpu: 0,
    gauges: {},
    seq: 5,
    ...o,
  };
}

/** One beat, as a role's publisher writes it (key with HEARTBEAT_TTL_S, index entry). */
async function beat(fr: FleetRedis, h: Heartbeat) {
  const p = fr.redis.pipeline();
  queueHeartbeat(p, fr.keys, h);
  await p.exec();
}

/** A live process: beats now and every 100 ms (seq and `at` move on; `atOffsetMs` puts its host's clock off). */
async function alive(fr: FleetRedis, h: Heartbeat, atOffsetMs = 0) {
  let n = h.seq ?? 3;
  const one = () => beat(fr, { ...h, seq: n++, at: new Date(Date.now() + atOffsetMs).toISOString() });
  await one();
  beaters.push(setInterval(() => void one(), 100));
}

describe('healthy', () => {
  it('passes when every expected process beats freshly and stably; unexpected beats are not counted', async () => {
    const { pc, fr } = await ctx({ feeder: 1, endpoint: 2 });
    await alive(fr, hb('feeder', 'feeder-1', { pid: 11 }));
    await alive(fr, hb('endpoint', 'endpoint-1', { pid: 21 }));
    // a host whose clock is an hour behind: aged on Redis's clock (the key's TTL), so still fresh
    await alive(fr, hb('endpoint', 'endpoint-2', { pid: 22 }), -3_600_000);
    await alive(fr, hb('endpoint', 'endpoint-9', { pid: 29 }));
    expect(await once(pc, { healthy: {} })).toEqual([
      { check: 'healthy', ok: true, detail: 'all roles: 3 up of 3 expected' },
    ]);
    expect(await once(pc, { healthy: { role: 'endpoint', version: 'v2' } })).toEqual([
      { check: 'healthy', ok: true, detail: 'endpoint at v2: 2 up of 2 expected' },
    ]);
  });

  it("does not pass on a dead process's heartbeat left behind, until a new process of it beats stably", async () => {
    const { pc, fr } = await ctx({ endpoint: 2 });
    await alive(fr, hb('endpoint', 'endpoint-1', { pid: 21 }));
    // killed a moment ago: its key is fresh, stable and of the right version, but it never beats again
    await beat(fr, hb('endpoint', 'endpoint-2', { pid: 22 }));
    const memo: CheckMemo = new Map();
    const poll = (c: unknown) => evaluate(pc, parse(c), memo, 5000);
    expect(await poll({ healthy: { role: 'endpoint' } })).toEqual([
      {
        check: 'healthy',
        ok: false,
        detail:
          'endpoint: 1 up of 2 expected; not: endpoint-2 old (pid 22 has not beaten since the change began)',
      },
    ]);
    // later polls of the same step, asking for counts
    const counted = [
      [{ count: 1 }, true, ' (want 1)'],
      [{ count: 2 }, false, ' (want 2)'],
      [{ at_least: 1 }, true, ' (want ≥ 1)'],
      [{ at_least: 2 }, false, ' (want ≥ 2)'],
      [{ at_least: 0 }, true, ' (want ≥ 0)'],
    ] as const;
    for (const [c, ok, want] of counted) {
      expect(await poll({ healthy: { role: 'endpoint', ...c } })).toEqual([
        {
          check: 'healthy',
          ok,
          detail: `endpoint: 1 up of 2 expected; not: endpoint-2 old (pid 22 has not beaten since the change began)${want}`,
        },
      ]);
    }
    // the supervisor's part: a new process beats once (not stable yet), then stays up
    await beat(fr, hb('endpoint', 'endpoint-2', { pid: 32, started_at: '2026-01-02T00:00:00.000Z', seq: 1 }));
    expect((await poll({ healthy: { role: 'endpoint' } }))[0]).toEqual({
      check: 'healthy',
      ok: false,
      detail: 'endpoint: 1 up of 2 expected; not: endpoint-2 unstable (pid 32 has beaten 1 of 3 times)',
    });
    await beat(fr, hb('endpoint', 'endpoint-2', { pid: 32, started_at: '2026-01-02T00:00:00.000Z', seq: 3 }));
    expect((await poll({ healthy: { role: 'endpoint' } }))[0]).toEqual({
      check: 'healthy',
      ok: true,
      detail: 'endpoint: 2 up of 2 expected',
    });
  });

  it('the first evaluation waits for live processes to beat after its mark', async () => {
    const { pc, fr } = await ctx({ feeder: 1 });
    // beats every 100 ms: its beat at the mark is "old" until the next one
    await alive(fr, hb('feeder', 'feeder-1', { pid: 11, seq: 3 }));
    const memo: CheckMemo = new Map();
    expect(await evaluate(pc, parse({ healthy: {} }), memo, 5000)).toEqual([
      { check: 'healthy', ok: true, detail: 'all roles: 1 up of 1 expected' },
    ]);
  });

  it('names the wrong version, a stale beat, a missing and a vanished process', async () => {
    const { pc, fr } = await ctx({ feeder: 1, endpoint: 2, keeper: 1 });
    await alive(fr, hb('feeder', 'feeder-1', { pid: 11, version: 'v1' }));
    await alive(fr, hb('endpoint', 'endpoint-1', { pid: 21 }));
    // last written 5.5 s ago on Redis's clock (its `at` says now): two beats missed
    await fr.redis.set(
      fr.keys.heartbeat('endpoint', 'endpoint-2'),
      JSON.stringify(hb('endpoint', 'endpoint-2', { pid: 22 })),
      'PX',
      HEARTBEAT_TTL_S * 1000 - 5500,
    );
    await fr.redis.zadd(fr.keys.heartbeatIndex, Date.now(), 'endpoint:endpoint-2');
    const res = await once(pc, { healthy: { version: 'v2' } });
    expect(res[0]!.ok).toBe(false);
    expect(res[0]!.detail).toMatch(
      /^all roles at v2: 1 up of 4 expected; not: feeder-1 version \(heartbeat reports version v1\), endpoint-2 stale \(last beat 5\.\d s ago \(pid 22\)\), keeper-1 missing$/,
    );
    // a key with no TTL (not a publisher's) is aged by its `at`; one in the index whose key expired is stale
    await fr.redis.set(
      fr.keys.heartbeat('keeper', 'keeper-1'),
      JSON.stringify(hb('keeper', 'keeper-1', { pid: 41, at: new Date(Date.now() - 60_000).toISOString() })),
    );
    await fr.redis.zadd(fr.keys.heartbeatIndex, Date.now(), 'keeper:keeper-1');
    await fr.redis.del(fr.keys.heartbeat('endpoint', 'endpoint-2'));
    const again = await once(pc, { healthy: { role: 'keeper' } });
    expect(again[0]!.detail).toMatch(
      /^keeper: 0 up of 1 expected; not: keeper-1 stale \(last beat 60\.\d s ago/,
    );
    expect(await once(pc, { healthy: { role: 'endpoint' } })).toEqual([
      { check: 'healthy', ok: false, detail: 'endpoint: 1 up of 2 expected; not: endpoint-2 stale' },
    ]);
  });

  it('nothing expected is not healthy, unless the step asks for none', async () => {
    const { pc } = await ctx({ feeder: 1 });
    expect(await once(pc, { healthy: { role: 'keeper' } })).toEqual([
      { check: 'healthy', ok: false, detail: 'keeper: 0 up of 0 expected' },
    ]);
    expect(await once(pc, { healthy: { role: 'keeper', count: 0 } })).toEqual([
      { check: 'healthy', ok: true, detail: 'keeper: 0 up of 0 expected (want 0)' },
    ]);
  });
});

// ---- alerts ----

const ALERT = (kind: string, subject: string) =>
  [
    'kind',
    kind,
    'subject',
    subject,
    'text',
    't',
    'delivered',
    'log',
    'keeper',
    'keeper-1',
    'at',
    'x',
  ] as const;
const raise = (fr: FleetRedis, kind: string, subject = `${kind} s`, id = '*') =>
  fr.redis.xadd(fr.keys.alerts, id, ...ALERT(kind, subject)) as Promise<string>;

describe('no_alerts', () => {
  it('true counts from the play start (the beginning of time when the play has no mark)', async () => {
    const { pc, fr } = await ctx();
    expect(await once(pc, { no_alerts: true })).toEqual([
      { check: 'no_alerts', ok: true, detail: 'no alert since the play started' },
    ]);
    await raise(fr, 'silence', 'feeder quiet');
    expect(await once(pc, { no_alerts: true })).toEqual([
      { check: 'no_alerts', ok: false, detail: '1 alert(s): silence: feeder quiet' },
    ]);
    // the play starts now: the alert raised before (same stream id as the mark) is not counted
    pc.marks.play = await takeMark(fr);
    expect(await once(pc, { no_alerts: true })).toEqual([
      { check: 'no_alerts', ok: true, detail: 'no alert since the play started' },
    ]);
    for (const k of ['exception', 'digest', 'recovered', 'silence']) await raise(fr, k);
    expect(await once(pc, { no_alerts: { since: 'play' } })).toEqual([
      {
        check: 'no_alerts',
        ok: false,
        detail: '4 alert(s): exception: exception s; digest: digest s; recovered: recovered s',
      },
    ]);
    expect(await once(pc, { no_alerts: { kinds: ['archive_down', 'exception'] } })).toEqual([
      { check: 'no_alerts', ok: false, detail: '1 alert(s): exception: exception s' },
    ]);
    expect(await once(pc, { no_alerts: { kinds: ['archive_down'] } })).toEqual([
      { check: 'no_alerts', ok: true, detail: 'no alert since the play started' },
    ]);
  });

  it('a duration counts back from now on the Redis clock; entries not of the alert shape still count', async () => {
    const { pc, fr } = await ctx();
    const now = (await takeMark(fr)).ms;
    await raise(fr, 'silence', 'old', `${now - 20 * 60_000}-0`);
    expect(await once(pc, { no_alerts: { since: '10m' } })).toEqual([
      { check: 'no_alerts', ok: true, detail: 'no alert in the last 10m' },
    ]);
    expect((await once(pc, { no_alerts: { since: '30m' } }))[0]!.detail).toBe('1 alert(s): silence: old');
    await fr.redis.xadd(fr.keys.alerts, '*', 'kind', 'weird', 'subject', 'odd');
    await fr.redis.xadd(fr.keys.alerts, '*', 'text', 'no kind');
    expect(await once(pc, { no_alerts: { since: '10m' } })).toEqual([
      { check: 'no_alerts', ok: false, detail: '2 alert(s): weird: odd; unknown: ' },
    ]);
  });
});

describe('alerts', () => {
  it('counts alerts raised after the step started (not the one just before), by kind', async () => {
    const { pc, fr } = await ctx();
    await raise(fr, 'silence', 'before');
    const memo: CheckMemo = new Map();
    const poll = (c: unknown) => evaluate(pc, parse({ alerts: c }), memo, 5000);
    expect(await poll({})).toEqual([
      { check: 'alerts', ok: false, detail: '0 alert(s) since this step started (want ≥ 1)' },
    ]);
    await raise(fr, 'silence');
    await raise(fr, 'exception');
    await raise(fr, 'silence');
    expect(await poll({})).toEqual([
      {
        check: 'alerts',
        ok: true,
        detail: '3 alert(s) since this step started (want ≥ 1): silence, exception',
      },
    ]);
    expect(await poll({ kinds: ['silence'], at_least: 3 })).toEqual([
      {
        check: 'alerts',
        ok: false,
        detail: '2 alert(s) of silence since this step started (want ≥ 3): silence',
      },
    ]);
    expect(await poll({ kinds: ['silence', 'recovered'], at_least: 2 })).toEqual([
      {
        check: 'alerts',
        ok: true,
        detail: '2 alert(s) of silence/recovered since this step started (want ≥ 2): silence',
      },
    ]);
    // since the play (no play mark: everything), and since an earlier step's end
    expect((await poll({ since: 'play', at_least: 4 }))[0]).toMatchObject({ ok: true });
    pc.steps = [{ index: 1, name: 'quiet', kind: 'wait', continue_on_error: false } as unknown as Step];
    pc.current = 2;
    const end = await takeMark(fr);
    pc.marks.steps.set(1, { end });
    expect(await poll({ since: { after: 'quiet' } })).toEqual([
      { check: 'alerts', ok: false, detail: '0 alert(s) since "quiet" ended (want ≥ 1)' },
    ]);
    await raise(fr, 'digest');
    expect(await poll({ since: { after: 'quiet' } })).toEqual([
      { check: 'alerts', ok: true, detail: '1 alert(s) since "quiet" ended (want ≥ 1): digest' },
    ]);
    expect(await poll({ since: '1h', at_least: 5 })).toEqual([
      {
        check: 'alerts',
        ok: true,
        detail: '5 alert(s) in the last 1h (want ≥ 5): silence, exception, digest',
      },
    ]);
    expect((await poll({ since: { before: 'nobody' } }))[0]).toEqual({
      check: 'alerts',
      ok: false,
      detail: 'no earlier step is called "nobody"',
    });
  });
});

// ---- the endpoint registry ----

function record(id: string, o: Partial<EndpointRecord> = {}): EndpointRecord {
  return {
    id,
    host: '127.0.0.1',
    port: 1,
    tls: false,
    clients: 0,
    capacity: 10,
    soft_limit: 8,
    draining: false,
    at: new Date().toISOString(),
    ...o,
  };
}
async function register(fr: FleetRedis, rec: EndpointRecord, score: number, pxMs = ENDPOINT_TTL_S * 1000) {
  await fr.redis.set(fr.keys.endpoint(rec.id), JSON.stringify(rec), 'PX', pxMs);
  await fr.redis.zadd(fr.keys.endpointIndex, score, rec.id);
}

describe('endpoints', () => {
  it('counts healthy and busy endpoints; draining, stale and expired records are not healthy', async () => {
    const { pc, fr } = await ctx();
    await register(fr, record('ep-1', { clients: 3, port: 11 }), 1);
    await register(fr, record('ep-2', { port: 12 }), 2);
    await register(fr, record('ep-3', { draining: true, clients: 5, port: 13 }), 3);
    await register(fr, record('ep-4', { clients: 5, port: 14 }), 4, ENDPOINT_TTL_S * 1000 - 5500);
    await fr.redis.zadd(fr.keys.endpointIndex, 5, 'ep-5');
    const detail = '2 healthy endpoint(s), 1 with clients: ep-1×3, ep-2×0';
    const cases = [
      [{}, true],
      [{ healthy: 2 }, true],
      [{ healthy: 3 }, false],
      [{ healthy: 1 }, false],
      [{ at_least: 2 }, true],
      [{ at_least: 3 }, false],
      [{ busy_at_least: 1 }, true],
      [{ busy_at_least: 2 }, false],
      [{ healthy: 2, busy_at_least: 2 }, false],
      [{ healthy: 3, at_least: 1 }, false],
      [{ at_least: 3, busy_at_least: 1 }, false],
    ] as const;
    for (const [c, ok] of cases) {
      expect(await once(pc, { endpoints: c }), JSON.stringify(c)).toEqual([
        { check: 'endpoints', ok, detail },
      ]);
    }
  });
});

// ---- the log archive ----

/** Store `ids` as one archive object in `dir`, as the keeper's FileTarget does (key by its first entry). */
async function archive(dir: string, ids: string[]) {
  const obj = await buildObject(
    'keeper-1',
    ids.map((id) => ({
      id,
      role: 'feeder',
      proc: 'feeder-1',
      host: 'h',
      level: 'info',
      line: '{"msg":"x"}',
    })),
  );
  fs.mkdirSync(path.dirname(path.join(dir, obj.key)), { recursive: true });
  fs.writeFileSync(path.join(dir, obj.key), obj.body);
}
const FEEDER = { role: 'feeder', id: 'feeder-1', host: 'h' };
const lines = (n: number, tag = 'l') => Array.from({ length: n }, (_, i) => `{"msg":"${tag} ${i}"}`);

describe('logs_archived', () => {
  const STREAM_TO_STEP = 'between the oldest line in the stream and this step started';

  it('passes when every line of the stream is in the folder, and names the ones that are not', async () => {
    const { pc, fr } = await ctx();
    const dir = makeTempDir('cond-archive');
    const [a, b, c] = await xaddLines(fr.redis, fr.keys, FEEDER, lines(3));
    await archive(dir, [a!, c!]);
    const url = `file://${dir}`;
    expect(await once(pc, { logs_archived: { archive: url } })).toEqual([
      {
        check: 'logs_archived',
        ok: false,
        detail: `2 of 3 log line(s) ${STREAM_TO_STEP} are in ${url}; not archived: ${b}`,
      },
    ]);
    await archive(dir, [b!]);
    expect(await once(pc, { logs_archived: { archive: url } })).toEqual([
      {
        check: 'logs_archived',
        ok: true,
        detail: `every log line ${STREAM_TO_STEP} is in ${url}: 3 of 3 (${a} … ${c})`,
      },
    ]);
  });

  it('lists at most five missing lines; a folder path is taken relative to the play, the config names the default', async () => {
    const { pc, fr, cwd } = await ctx();
    const ids = await xaddLines(fr.redis, fr.keys, FEEDER, lines(7));
    const url = `file://${path.join(cwd, 'arch')}`;
    expect(await once(pc, { logs_archived: { archive: 'arch' } })).toEqual([
      {
        check: 'logs_archived',
        ok: false,
        detail: `0 of 7 log line(s) ${STREAM_TO_STEP} are in ${url}; not archived: ${ids.slice(0, 5).join(', ')}, …`,
      },
    ]);
    await archive(path.join(cwd, 'arch'), ids.slice(0, 2));
    expect((await once(pc, { logs_archived: { archive: 'arch' } }))[0]!.detail).toBe(
      `2 of 7 log line(s) ${STREAM_TO_STEP} are in ${url}; not archived: ${ids.slice(2).join(', ')}`,
    );
    expect(await once(pc, { logs_archived: true })).toEqual([
      {
        check: 'logs_archived',
        ok: false,
        detail: 'logs_archived: no archive, and the config names no keeper archive',
      },
    ]);
    pc.config.roles.keeper.options.archive = 'arch';
    expect((await once(pc, { logs_archived: true }))[0]!.detail).toMatch(/^2 of 7 log line\(s\)/);
  });

  it('only the lines between the two marks count: after `since`, up to and with `until`', async () => {
    const { pc, fr } = await ctx();
    const dir = makeTempDir('cond-archive');
    pc.steps = [
      { index: 1, name: 'down', kind: 'run' },
      { index: 2, name: 'back', kind: 'wait' },
    ] as unknown as Step[];
    pc.current = 3;
    const [early] = await xaddLines(fr.redis, fr.keys, FEEDER, ['{"msg":"early"}']);
    pc.marks.steps.set(1, { start: await takeMark(fr) });
    const inside = await xaddLines(fr.redis, fr.keys, FEEDER, lines(3, 'outage'));
    pc.marks.steps.set(2, { end: await takeMark(fr) });
    const [late] = await xaddLines(fr.redis, fr.keys, FEEDER, ['{"msg":"late"}']);
    const c = { logs_archived: { since: { before: 'down' }, until: { after: 'back' }, archive: dir } };
    const range = 'between "down" started and "back" ended';
    // the last line before `until` is in the range
    await archive(dir, inside.slice(0, 2));
    expect((await once(pc, c))[0]).toEqual({
      check: 'logs_archived',
      ok: false,
      detail: `2 of 3 log line(s) ${range} are in file://${dir}; not archived: ${inside[2]}`,
    });
    // the line at `since` and the one after `until` are not: they are never archived here
    await archive(dir, [inside[2]!]);
    expect((await once(pc, c))[0]).toEqual({
      check: 'logs_archived',
      ok: true,
      detail: `every log line ${range} is in file://${dir}: 3 of 3 (${inside[0]} … ${inside[2]})`,
    });
    expect([early, late]).toHaveLength(2);
    // with since: stream, the early line is required too
    expect((await once(pc, { logs_archived: { ...c.logs_archived, since: 'stream' } }))[0]!.detail).toBe(
      `3 of 4 log line(s) between the oldest line in the stream and "back" ended are in file://${dir}; not archived: ${early}`,
    );
  });

  it('an empty range or an empty stream passes only with allow_empty', async () => {
    const { pc, fr } = await ctx();
    const dir = makeTempDir('cond-archive');
    expect(await once(pc, { logs_archived: { archive: dir } })).toEqual([
      {
        check: 'logs_archived',
        ok: false,
        detail: `no log line was written ${STREAM_TO_STEP}: nothing to prove (allow_empty: true accepts that)`,
      },
    ]);
    expect(await once(pc, { logs_archived: { archive: dir, allow_empty: true } })).toEqual([
      { check: 'logs_archived', ok: true, detail: `no log line was written ${STREAM_TO_STEP} (allow_empty)` },
    ]);
    await xaddLines(fr.redis, fr.keys, FEEDER, lines(2));
    pc.steps = [{ index: 1, name: 'quiet', kind: 'wait' }] as unknown as Step[];
    pc.current = 2;
    pc.marks.steps.set(1, { start: await takeMark(fr) });
    const c = { since: { before: 'quiet' }, archive: dir };
    expect(await once(pc, { logs_archived: c })).toEqual([
      {
        check: 'logs_archived',
        ok: false,
        detail:
          'no log line was written between "quiet" started and this step started: nothing to prove (allow_empty: true accepts that)',
      },
    ]);
    expect((await once(pc, { logs_archived: { ...c, allow_empty: true } }))[0]).toMatchObject({ ok: true });
  });

  it("reads an object keyed in the hour before the range's first line (the batch started earlier)", async () => {
    const { pc, fr } = await ctx();
    const dir = makeTempDir('cond-archive');
    const ids = await xaddLines(fr.redis, fr.keys, FEEDER, lines(2));
    const first = Number(ids[0]!.split('-')[0]);
    // the object's first line is an earlier one (already trimmed from the stream): its key is the hour before
    await archive(dir, [`${first - 3_599_000}-0`, ...ids]);
    expect((await once(pc, { logs_archived: { archive: dir } }))[0]).toMatchObject({ ok: true });
  });

  it('a step reads the range once: lines trimmed between polls still have to be in the archive', async () => {
    const { pc, fr } = await ctx();
    const dir = makeTempDir('cond-archive');
    const ids = await xaddLines(fr.redis, fr.keys, FEEDER, lines(2));
    await archive(dir, [ids[0]!]);
    const memo: CheckMemo = new Map();
    const c = parse({ logs_archived: { archive: dir } });
    const missing = `1 of 2 log line(s) ${STREAM_TO_STEP} are in file://${dir}; not archived: ${ids[1]}`;
    try {
      expect((await evaluate(pc, c, memo, 5000))[0]!.detail).toBe(missing);
      await fr.redis.xtrim(fr.keys.logStream, 'MAXLEN', 0);
      expect((await evaluate(pc, c, memo, 5000))[0]!.detail).toBe(missing);
      await archive(dir, [ids[1]!]);
      expect((await evaluate(pc, c, memo, 5000))[0]).toMatchObject({ ok: true });
    } finally {
      closeMemo(memo);
    }
  });

  it('reads a stream longer than one page', async () => {
    const { pc, fr } = await ctx();
    const dir = makeTempDir('cond-archive');
    const ids = await xaddLines(fr.redis, fr.keys, FEEDER, lines(10_003));
    await archive(dir, ids.slice(0, 10_001));
    expect(await once(pc, { logs_archived: { archive: dir } })).toEqual([
      {
        check: 'logs_archived',
        ok: false,
        detail: `10001 of 10003 log line(s) ${STREAM_TO_STEP} are in file://${dir}; not archived: ${ids.slice(10_001).join(', ')}`,
      },
    ]);
  });
});

// ---- replaced ----

describe('replaced', () => {
  const T0 = '2026-01-01T00:00:00.000Z';
  const T1 = '2026-01-01T00:01:00.000Z';
  const target = (id: string, pid: number | null, started_at: string | null = T0): TargetedProcess => ({
    role: id.split('-')[0]!,
    id,
    host: 'memory',
    pid,
    started_at,
  });

  it('each process a named run step was pointed at beats again as a new process', async () => {
    const { pc, fr } = await ctx({ feeder: 1, endpoint: 2 });
    pc.steps = [
      { index: 1, name: 'kill feeder', kind: 'run' },
      { index: 2, name: 'kill endpoints', kind: 'run' },
      { index: 3, name: 'later', kind: 'run' },
    ] as unknown as Step[];
    pc.current = 3;
    pc.targeted.set(1, [target('feeder-1', 100)]);
    pc.targeted.set(2, [target('endpoint-1', 200), target('endpoint-2', null, null)]);
    const r = (steps: string[]) => once(pc, { replaced: { steps } });
    expect(await r(['kill feeder'])).toEqual([
      { check: 'replaced', ok: false, detail: 'feeder-1: missing (was pid 100)' },
    ]);
    // the old process's heartbeat; then the same pid again; then a new pid that did not start later
    await beat(fr, hb('feeder', 'feeder-1', { pid: 100 }));
    expect((await r(['kill feeder']))[0]).toEqual({
      check: 'replaced',
      ok: false,
      detail: "feeder-1: still the old process's heartbeat (pid 100)",
    });
    // the same pid with a later start (a restart that got the pid back) is not taken for a new process either
    await beat(fr, hb('feeder', 'feeder-1', { pid: 100, started_at: T1 }));
    expect((await r(['kill feeder']))[0]).toEqual({
      check: 'replaced',
      ok: false,
      detail: "feeder-1: still the old process's heartbeat (pid 100)",
    });
    await beat(fr, hb('feeder', 'feeder-1', { pid: 101, started_at: T0 }));
    expect((await r(['kill feeder']))[0]).toEqual({
      check: 'replaced',
      ok: false,
      detail: "feeder-1: still the old process's heartbeat (pid 101)",
    });
    await beat(fr, hb('feeder', 'feeder-1', { pid: 101, started_at: T1 }));
    expect((await r(['kill feeder']))[0]).toEqual({
      check: 'replaced',
      ok: true,
      detail: 'feeder-1: pid 100 → pid 101',
    });
    // a process that had no heartbeat before: any beating process is new
    await beat(fr, hb('endpoint', 'endpoint-1', { pid: 201, started_at: T1 }));
    await beat(fr, hb('endpoint', 'endpoint-2', { pid: 300, started_at: T0 }));
    expect(await r(['kill feeder', 'kill endpoints'])).toEqual([
      {
        check: 'replaced',
        ok: true,
        detail:
          'feeder-1: pid 100 → pid 101; endpoint-1: pid 200 → pid 201; endpoint-2: no heartbeat → pid 300',
      },
    ]);
    // stale: its key stopped being written
    await fr.redis.set(
      fr.keys.heartbeat('endpoint', 'endpoint-1'),
      JSON.stringify(hb('endpoint', 'endpoint-1', { pid: 201, started_at: T1 })),
      'PX',
      1000,
    );
    expect((await r(['kill endpoints']))[0]).toEqual({
      check: 'replaced',
      ok: false,
      detail: 'endpoint-1: stale (was pid 200); endpoint-2: no heartbeat → pid 300',
    });
  });

  it('a process no longer in the fleet, a step that did not run, a step that named none', async () => {
    const { pc } = await ctx({ feeder: 1 });
    pc.steps = [
      { index: 1, name: 'gone', kind: 'run' },
      { index: 2, name: 'skipped', kind: 'run' },
      { index: 3, name: 'empty', kind: 'run' },
      { index: 4, name: 'after', kind: 'run' },
    ] as unknown as Step[];
    pc.current = 4;
    pc.targeted.set(1, [target('endpoint-7', 700)]);
    pc.targeted.set(3, []);
    pc.targeted.set(4, [target('feeder-1', 1)]);
    const r = (steps: string[]) => once(pc, { replaced: { steps } });
    expect(await r(['gone'])).toEqual([
      { check: 'replaced', ok: false, detail: 'endpoint-7: gone (was pid 700)' },
    ]);
    expect(await r(['skipped'])).toEqual([
      { check: 'replaced', ok: false, detail: 'step "skipped" did not run, so it names no process' },
    ]);
    expect(await r(['empty'])).toEqual([
      { check: 'replaced', ok: false, detail: 'the steps named no process' },
    ]);
    // a step at or after the running one is not an earlier step
    expect(await r(['after'])).toEqual([
      { check: 'replaced', ok: false, detail: 'step "after" did not run, so it names no process' },
    ]);
  });
});

// ---- protocol clients ----

describe('client and clients', () => {
  const eps: StartedEndpoint[] = [];
  afterAll(async () => {
    for (const e of eps) await e.stop();
  });

  it('connect, keep a group, see it moved when its endpoint goes, replace it with fresh clients', async () => {
    const { pc, fr } = await ctx();
    const url = server().url;
    const prefix = fr.keys.prefix;
    expect(await once(pc, { client: {} })).toEqual([
      { check: 'client', ok: false, detail: 'no healthy endpoint in the registry to connect to' },
    ]);
    expect(await once(pc, { clients: { group: 'g' } })).toEqual([
      {
        check: 'clients',
        ok: false,
        detail: 'no client group g: an earlier step must keep one (client: {keep: g})',
      },
    ]);
    const a = await startEndpoint(url, prefix);
    eps.push(a);
    const A = `127.0.0.1:${a.port}`;
    await waitFor(async () => (await fr.redis.zcard(fr.keys.endpointIndex)) === 1, 10_000, 'a registered');
    expect(await once(pc, { client: { count: 2 } })).toEqual([
      { check: 'client', ok: true, detail: `2 client(s) got set_movies from ${A}` },
    ]);
    expect(pc.clients.size).toBe(0);
    // the clients were closed: the endpoint sees none
    await waitFor(() => a.instance.server.clients.size === 0, 10_000, 'clients closed');

    const b = await startEndpoint(url, prefix);
    eps.push(b);
    const B = `127.0.0.1:${b.port}`;
    await waitFor(async () => (await fr.redis.zcard(fr.keys.endpointIndex)) === 2, 10_000, 'b registered');
    const kept = await once(pc, { client: { count: 6, keep: 'g' } });
    expect(kept[0]).toMatchObject({ check: 'client', ok: true });
    expect(kept[0]!.detail).toMatch(
      new RegExp(`^6 client\\(s\\) got set_movies from (${A}|${B})(, (${A}|${B}))?; kept as g$`),
    );
    const g = pc.clients.get('g')!;
    expect(g).toHaveLength(6);
    expect(g.every((k) => k.client.ready && k.first === addrKey(k.client.endpoint))).toBe(true);
    // a later step naming the group checks it, without connecting others
    expect(await once(pc, { client: { keep: 'g' } })).toEqual([
      { check: 'client', ok: true, detail: 'group g (kept earlier): 6/6 connected' },
    ]);
    expect(pc.clients.get('g')).toBe(g);
    const on = (list: string[]) => {
      const m = new Map<string, number>();
      for (const x of list) m.set(x, (m.get(x) ?? 0) + 1);
      return [...m].map(([x, n]) => `${x}×${n}`).join(', ');
    };
    expect(await once(pc, { clients: { group: 'g' } })).toEqual([
      { check: 'clients', ok: true, detail: `g: 6/6 connected, 0 moved; on ${on(g.map((k) => k.first!))}` },
    ]);
    expect(await once(pc, { clients: { group: 'g', moved_at_least: 1 } })).toEqual([
      {
        check: 'clients',
        ok: false,
        detail: `g: 6/6 connected, 0 moved (want ≥ 1); on ${on(g.map((k) => k.first!))}`,
      },
    ]);

    // the endpoint of the first client goes: its clients move to the other
    const [gone, other, otherAddr] = g[0]!.first === A ? [a, b, B] : [b, a, A];
    const leaving = g.filter((k) => k.first === g[0]!.first).length;
    await gone.stop();
    await waitFor(
      () => g.every((k) => k.client.ready && addrKey(k.client.endpoint) === otherAddr),
      15_000,
      'clients moved',
    );
    expect(await once(pc, { clients: { group: 'g', moved_at_least: leaving } })).toEqual([
      {
        check: 'clients',
        ok: true,
        detail: `g: 6/6 connected, ${leaving} moved (want ≥ ${leaving}); on ${otherAddr}×6`,
      },
    ]);
    expect((await once(pc, { clients: { group: 'g', moved_at_least: leaving + 1 } }))[0]!.ok).toBe(false);

    // the other goes too: nothing is connected
    await other.stop();
    await waitFor(() => g.every((k) => !k.client.ready), 15_000, 'clients disconnected');
    expect(await once(pc, { client: { keep: 'g' } })).toEqual([
      {
        check: 'client',
        ok: false,
        detail: 'group g (kept earlier): 0/6 connected; fresh: true connects new clients instead',
      },
    ]);
    expect(await once(pc, { clients: { group: 'g', connected: 1 } })).toEqual([
      { check: 'clients', ok: false, detail: 'g: 0/6 connected, 0 moved; on nothing' },
    ]);
    expect(await once(pc, { clients: { group: 'g', connected: 0 } })).toEqual([
      { check: 'clients', ok: true, detail: 'g: 0/6 connected, 0 moved; on nothing' },
    ]);

    // fresh: the old group is closed and new clients are kept under its name, once per step
    const c = await startEndpoint(url, prefix);
    eps.push(c);
    const C = `127.0.0.1:${c.port}`;
    await waitFor(async () => (await once(pc, { endpoints: { healthy: 1 } }))[0]!.ok, 10_000, 'c registered');
    const memo: CheckMemo = new Map();
    const fresh = parse({ client: { count: 2, keep: 'g', fresh: true } });
    expect(await evaluate(pc, fresh, memo, 5000)).toEqual([
      { check: 'client', ok: true, detail: `2 client(s) got set_movies from ${C}; kept as g` },
    ]);
    const g2 = pc.clients.get('g')!;
    expect(g2).toHaveLength(2);
    expect(g2).not.toBe(g);
    expect(await evaluate(pc, fresh, memo, 5000)).toEqual([
      { check: 'client', ok: true, detail: 'group g (kept earlier): 2/2 connected' },
    ]);
    expect(pc.clients.get('g')).toBe(g2);
    // the old clients were closed: they do not come back on the new endpoint
    expect(c.instance.server.clients.size).toBe(2);
    // a kept group replaced while it is still connected: its clients are closed
    const memo2: CheckMemo = new Map();
    expect(await evaluate(pc, parse({ client: { count: 1, keep: 'g', fresh: true } }), memo2, 5000)).toEqual([
      { check: 'client', ok: true, detail: `1 client(s) got set_movies from ${C}; kept as g` },
    ]);
    await waitFor(() => c.instance.server.clients.size === 1, 10_000, 'the replaced clients gone');
    for (const k of pc.clients.get('g')!) k.client.close();
  }, 60_000);

  it('connects to the endpoints a list names (an endpoints.json file), not the registry', async () => {
    const { pc, fr, cwd } = await ctx();
    // an endpoint of another fleet: this fleet's registry is empty
    const d = await startEndpoint(server().url, `${fr.keys.prefix}other:`);
    eps.push(d);
    const file = path.join(cwd, 'endpoints.json');
    fs.writeFileSync(file, JSON.stringify(buildEndpointList([record('d', { port: d.port })])));
    expect(await once(pc, { client: { source: file } })).toEqual([
      { check: 'client', ok: true, detail: `1 client(s) got set_movies from 127.0.0.1:${d.port}` },
    ]);
  });
});

// ---- the check kinds and what they describe ----

describe('assert and wait', () => {
  const step = (kind: 'assert' | 'wait', c: unknown) =>
    ({ index: 1, name: kind, continue_on_error: false, kind, args: parse(c) }) as never;

  it('assert passes with every check true, and reports each on the event bus', async () => {
    const { pc, events } = await ctx();
    const out = await assertKind.run(pc, step('assert', { no_alerts: true, endpoints: {} }), 5000);
    expect(out).toEqual({
      changed: false,
      changes: [],
      detail: 'no alert since the play started; 0 healthy endpoint(s), 0 with clients: ',
    });
    expect(events).toEqual([
      { type: 'info', message: '✓ no_alerts: no alert since the play started' },
      { type: 'info', message: '✓ endpoints: 0 healthy endpoint(s), 0 with clients: ' },
    ]);
  });

  it('assert fails naming only the checks that failed', async () => {
    const { pc, fr, events } = await ctx();
    await raise(fr, 'silence', 'quiet');
    const err = await assertKind
      .run(pc, step('assert', { no_alerts: true, endpoints: {}, alerts: {} }), 5000)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect(err).toMatchObject({
      code: 'GOD_ASSERT',
      message:
        'assertion failed: no_alerts: 1 alert(s): silence: quiet; alerts: 0 alert(s) since this step started (want ≥ 1)',
      hint: 'See `god status`, `god endpoints` and `god logs --level warn` for why.',
    });
    expect(events.map((e) => [e.type, (e as { message: string }).message])).toEqual([
      // in the order evaluate() takes the checks, not the step's
      ['error', '✗ no_alerts: 1 alert(s): silence: quiet'],
      ['error', '✗ alerts: 0 alert(s) since this step started (want ≥ 1)'],
      ['info', '✓ endpoints: 0 healthy endpoint(s), 0 with clients: '],
    ]);
  });

  it('checkOnce is ok only when every check is', async () => {
    const { pc, fr } = await ctx();
    await raise(fr, 'silence');
    const memo: CheckMemo = new Map();
    expect((await checkOnce(pc, parse({ endpoints: {}, no_alerts: true }), memo, 5000)).ok).toBe(false);
    expect((await checkOnce(pc, parse({ endpoints: {}, alerts: { since: 'play' } }), memo, 5000)).ok).toBe(
      true,
    );
  });

  it('wait polls until the checks hold, and at its deadline (or an abort) says what is still not true', async () => {
    const { pc, fr } = await ctx();
    const c = { endpoints: { healthy: 1 } };
    const pending = waitKind.run(pc, step('wait', { ...c, no_alerts: true }), 20_000);
    setTimeout(() => void register(fr, record('ep-1'), 1), 700);
    await expect(pending).resolves.toEqual({
      changed: false,
      changes: [],
      detail: 'no alert since the play started; 1 healthy endpoint(s), 0 with clients: ep-1×0',
    });
    const { pc: pc2 } = await ctx();
    // only the checks still failing are named
    const two = await waitKind
      .run(pc2, step('wait', { ...c, no_alerts: true, alerts: {} }), 1000)
      .catch((e: unknown) => e);
    expect((two as Error).message).toBe(
      'still not true after 1 s: alerts: 0 alert(s) since this step started (want ≥ 1); endpoints: 0 healthy endpoint(s), 0 with clients: ',
    );
    const timedOut = await waitKind.run(pc2, step('wait', c), 1000).catch((e: unknown) => e);
    expect(timedOut).toBeInstanceOf(UserError);
    expect(timedOut).toMatchObject({
      code: 'GOD_TIMEOUT',
      message: 'still not true after 1 s: endpoints: 0 healthy endpoint(s), 0 with clients: ',
      hint: 'Give the step a longer timeout if the fleet is just slow; else see `god status` and `god logs --level warn`.',
    });
    const ac = new AbortController();
    ac.abort();
    pc2.signal = ac.signal;
    await expect(waitKind.run(pc2, step('wait', c), 600_000)).rejects.toThrow(
      'still not true after 600 s: endpoints: 0 healthy endpoint(s), 0 with clients: ',
    );
  });

  it('names, timeouts and plans of the check kinds', async () => {
    const c = parse({ healthy: {}, no_alerts: true, alerts: undefined });
    expect(assertKind.defaultName(c)).toBe('assert healthy, no_alerts');
    expect(waitKind.defaultName({ ...c, alerts: undefined } as Conditions)).toBe('wait healthy, no_alerts');
    expect([assertKind.timeout, waitKind.timeout]).toEqual(['30s', '120s']);
    expect([assertKind.needsFleet, assertKind.isCheck, waitKind.needsFleet, waitKind.isCheck]).toEqual([
      true,
      true,
      true,
      true,
    ]);
    expect(await assertKind.plan({} as PlayContext, step('assert', { healthy: {} }), 1000)).toEqual([]);
    expect(assertKind.describe!(step('assert', { no_alerts: true, alerts: {} }), '30s')).toEqual([
      'check: no alerts; ≥ 1 alert(s)',
    ]);
    expect(waitKind.describe!(step('wait', { healthy: { role: 'endpoint' } }), '2m')).toEqual([
      'wait up to 2m for: every endpoint beating',
    ]);
    expect(ConditionsSchema.safeParse(assertKind.example).success).toBe(true);
    expect(assertKind.example).toEqual({ healthy: {} });
  });

  it('describeConditions says each check in a line', () => {
    expect(
      describeConditions(
        parse({
          healthy: { role: 'feeder', count: 2, version: 'v9' },
          no_alerts: true,
          alerts: { at_least: 2, kinds: ['silence', 'exception'] },
          client: { count: 3, keep: 'g' },
          clients: { group: 'g', moved_at_least: 1 },
          endpoints: { healthy: 2 },
          logs_archived: { since: { before: 'down' }, until: { after: 'back' } },
          replaced: { steps: ['kill', 'kill 2'] },
        }),
      ),
    ).toEqual([
      '2 feeder at v9 beating',
      'no alerts',
      '≥ 2 alert(s) (silence/exception)',
      '3 protocol client(s) get set_movies (kept as g)',
      'client group g connected, ≥ 1 moved',
      'endpoint registry {"healthy":2}',
      'every log line between "down" started and "back" ended in the archive',
      'the processes of "kill", "kill 2" replaced',
    ]);
    expect(
      describeConditions(
        parse({
          healthy: { at_least: 1 },
          alerts: {},
          client: {},
          clients: { group: 'g' },
          logs_archived: true,
        }),
      ),
    ).toEqual([
      '≥ 1 process beating',
      '≥ 1 alert(s)',
      '1 protocol client(s) get set_movies',
      'client group g connected',
      'every log line between the oldest line in the stream and this step started in the archive',
    ]);
    expect(describeConditions(parse({ healthy: {} }))).toEqual(['every process beating']);
  });
});

// ---- the schema ----

describe('ConditionsSchema', () => {
  const problems = (c: unknown) => {
    const r = ConditionsSchema.safeParse(c);
    return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };

  it('fills the defaults each check documents', () => {
    expect(
      parse({
        no_alerts: {},
        alerts: {},
        client: {},
        clients: { group: 'g' },
        logs_archived: true,
        healthy: { version: '' },
      }),
    ).toEqual({
      no_alerts: { since: 'play' },
      alerts: { at_least: 1, since: 'step' },
      client: { count: 1, source: 'registry', fresh: false },
      clients: { group: 'g', connected: 'all' },
      logs_archived: { until: 'step', since: 'stream', allow_empty: false },
      healthy: {},
    });
    expect(parse({ logs_archived: {} }).logs_archived).toEqual({
      until: 'step',
      since: 'stream',
      allow_empty: false,
    });
    expect(parse({ alerts: { since: ' 10m ' } }).alerts!.since).toBe('10m');
  });

  it('refuses what cannot be meant, saying why', () => {
    expect(problems({})).toEqual([
      ': must name at least one check (healthy, no_alerts, alerts, client, clients, endpoints, logs_archived, replaced)',
    ]);
    expect(problems({ healthy: undefined })).toHaveLength(1);
    expect(problems({ healthy: { count: 1, at_least: 1 } })).toEqual([
      'healthy: give count or at_least, not both',
    ]);
    expect(problems({ healthy: { count: 1 } })).toEqual([]);
    expect(problems({ healthy: { at_least: 1 } })).toEqual([]);
    expect(problems({ client: { fresh: true } })).toEqual([
      'client: fresh replaces a kept group: give keep too',
    ]);
    expect(problems({ client: { fresh: true, keep: 'g' } })).toEqual([]);
    expect(problems({ client: { count: 1001 } })).toEqual(['client.count: must be at most 1000']);
    expect(problems({ client: { count: 1000 } })).toEqual([]);
    expect(problems({ client: { source: '' } })).toHaveLength(1);
    expect(problems({ replaced: { steps: [] } })).toEqual(['replaced.steps: must name at least one step']);
    expect(problems({ replaced: { steps: [''] } })).toHaveLength(1);
    expect(problems({ logs_archived: { until: { before: '' } } })).toHaveLength(1);
    expect(problems({ logs_archived: { until: { after: '' } } })).toHaveLength(1);
    expect(problems({ logs_archived: { until: { before: 'a', after: 'b' } } })).toHaveLength(1);
    expect(problems({ logs_archived: { until: 'stream' } })).toHaveLength(1);
    expect(problems({ logs_archived: { archive: '' } })).toHaveLength(1);
    expect(problems({ logs_archived: { since: 'stream', until: 'play' } })).toEqual([]);
    expect(problems({ alerts: { since: 'soon' } })).toHaveLength(1);
    expect(problems({ alerts: { at_least: 0 } })).toHaveLength(1);
    expect(problems({ alerts: { kinds: ['fire'] } })).toHaveLength(1);
    expect(problems({ no_alerts: false })).toHaveLength(1);
    expect(problems({ endpoints: { healthy: 1, extra: 1 } })).toHaveLength(1);
    expect(problems({ clients: { group: 'g', connected: 'some' } })).toHaveLength(1);
    const kinds = ['silence', 'recovered', 'exception', 'digest', 'archive_down', 'archive_up'];
    expect(problems({ alerts: { kinds }, no_alerts: { kinds, since: { after: 'x' } } })).toEqual([]);
    for (const since of ['play', 'step', { before: 'x' }, { after: 'x' }, '5m']) {
      expect(problems({ alerts: { since } }), JSON.stringify(since)).toEqual([]);
    }
  });

  it('each check has a hint that names it and every option it takes', () => {
    const options: Record<(typeof CHECK_NAMES)[number], string[]> = {
      healthy: ['role', 'count', 'at_least', 'version'],
      no_alerts: ['since', 'kinds'],
      alerts: ['at_least', 'kinds', 'since'],
      client: ['count', 'source', 'keep', 'fresh'],
      clients: ['group', 'connected', 'moved_at_least'],
      endpoints: ['healthy', 'at_least', 'busy_at_least'],
      logs_archived: ['until', 'since', 'allow_empty', 'archive'],
      replaced: ['steps'],
    };
    expect(Object.keys(CHECK_HINTS)).toEqual([...CHECK_NAMES]);
    for (const name of CHECK_NAMES) {
      expect(CHECK_HINTS[name].startsWith(`${name}`), name).toBe(true);
      for (const o of options[name]) expect(CHECK_HINTS[name], `${name}.${o}`).toContain(o);
      expect(CONDITIONS_HINT).toContain(name);
    }
    expect(CONDITIONS_HINT).toBe(
      'A mapping of checks, all of which must hold: healthy, no_alerts, alerts, client, clients, endpoints, logs_archived, replaced.',
    );
    // the marks they accept are spelled out where a check takes one
    for (const name of ['no_alerts', 'alerts', 'logs_archived'] as const) {
      expect(CHECK_HINTS[name]).toContain('play, step, {before: STEP NAME} or {after: STEP NAME}');
    }
  });
});
