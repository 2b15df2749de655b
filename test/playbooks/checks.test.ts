// The playbook checks that prove something happened between two points of a play, against real parts: a
// redis-server, the keeper role as shipped (in this process) writing a real archive folder or moto's S3, and
// the alerts stream. `logs_archived` must read the archive itself (a keeper that skipped unread lines, or a
// consumer group moved past them, must fail it); `alerts` counts from this step's start on Redis's clock.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it, onTestFinished } from 'vitest';
import { defaultConfig } from '../../god/core/config/load.ts';
import { nullSink } from '../../god/core/events.ts';
import type { ClientGroups } from '../../god/core/playbook/clients.ts';
import { type CheckMemo, closeMemo, evaluate } from '../../god/core/playbook/conditions.ts';
import type { PlayContext } from '../../god/core/playbook/context.ts';
import { PlaybookError, parsePlaybookText } from '../../god/core/playbook/load.ts';
import { takeMark } from '../../god/core/playbook/marks.ts';
import type { Conditions, Playbook } from '../../god/core/playbook/schema.ts';
import { createProvider } from '../../god/core/providers/index.ts';
import { connectFleetRedis, type FleetRedis } from '../../god/core/redis.ts';
import { KEEPER_GROUP, redisContract } from '../../protocol/redis-contract.ts';
import { makeTempDir, motoAvailable, sleep, useMoto, useRedis, useRedisClient } from '../harness/index.ts';
import {
  createBucket,
  type InProcessKeeper,
  readDirArchive,
  startKeeper,
  xaddLines,
} from '../keeper/helpers.ts';

const server = useRedis();
const redis = useRedisClient(server);
const FEEDER = { role: 'feeder', id: 'feeder-1', host: 'h' };

const PLAY = (archive: string) => `name: checks
steps:
  - name: keeper down
    run: { command: "true", role: keeper }
  - name: keeper back
    wait: { healthy: {} }
  - name: archived
    wait:
      logs_archived: { since: { before: keeper down }, until: { after: keeper back }, archive: "${archive}" }
`;

/** What the runner hands a step (contexts.ts), with marks set by the test at the moments it names. */
async function context(prefix: string, pb: Playbook): Promise<{ pc: PlayContext; fr: FleetRedis }> {
  const dir = makeTempDir('checks-ctx');
  const config = defaultConfig();
  const fr = await connectFleetRedis(server().url, { prefix });
  const provider = await createProvider({
    config,
    events: nullSink,
    baseDir: dir,
    env: {},
    local: { stateDir: path.join(dir, '.god/local') },
  });
  const pc: PlayContext = {
    provider,
    config,
    events: nullSink,
    dryRun: false,
    env: process.env,
    cwd: dir,
    startedAt: Date.now(),
    redis: async () => fr,
    tryRedis: async () => fr,
    pool: () => {
      throw new Error('no SSH here');
    },
    clients: new Map() as ClientGroups,
    steps: pb.steps,
    marks: { steps: new Map() },
    targeted: new Map(),
  };
  return { pc, fr };
}

const argsOf = (pb: Playbook, i: number) => (pb.steps[i - 1] as { args: Conditions }).args;

/** Poll like a `wait` step (one memo: the step started once) until the checks hold or `ms` pass. */
async function waitChecks(pc: PlayContext, c: Conditions, memo: CheckMemo, ms = 20_000) {
  const until = Date.now() + ms;
  for (;;) {
    const res = await evaluate(pc, c, memo, 5000);
    if (res.every((r) => r.ok) || Date.now() > until) return res;
    await sleep(200);
  }
}

async function onceChecks(pc: PlayContext, c: Conditions) {
  const memo: CheckMemo = new Map();
  try {
    return await evaluate(pc, c, memo, 5000);
  } finally {
    closeMemo(memo);
  }
}

describe('logs_archived reads the archive itself', () => {
  const keepers: InProcessKeeper[] = [];
  const opened: FleetRedis[] = [];
  afterAll(async () => {
    for (const k of keepers) await k.stop().catch(() => {});
    for (const fr of opened) fr.close();
  });
  const keeper = async (prefix: string, archive: string) => {
    const k = await startKeeper([
      '--redis',
      server().url,
      '--prefix',
      prefix,
      '--id',
      'keeper-1',
      '--archive',
      archive,
      '--flush',
      '200ms',
      '--spool-dir',
      makeTempDir('checks-spool'),
    ]);
    keepers.push(k);
    return k;
  };

  it('lines written while the keeper was down pass only once they are in the archive folder', async () => {
    const prefix = 'la1:';
    const keys = redisContract(prefix);
    const dir = makeTempDir('checks-archive');
    const pb = parsePlaybookText(PLAY(`file://${dir}`), 'checks.yaml');
    const { pc, fr } = await context(prefix, pb);
    opened.push(fr);
    pc.current = 3;
    const a = await keeper(prefix, `file://${dir}`);
    const early = await xaddLines(redis(), keys, FEEDER, ['{"msg":"before 1"}', '{"msg":"before 2"}']);
    await a.stop();
    // "keeper down" starts: the outage
    pc.marks.steps.set(1, { start: await takeMark(fr) });
    const outage = await xaddLines(
      redis(),
      keys,
      FEEDER,
      Array.from({ length: 6 }, (_, i) => `{"msg":"outage ${i}"}`),
    );
    // while it is down the lines are not in the archive, and the check says which
    const down = await onceChecks(pc, { logs_archived: { ...argsOf(pb, 3).logs_archived!, until: 'step' } });
    expect(down[0]).toMatchObject({ check: 'logs_archived', ok: false });
    expect(down[0]!.detail).toMatch(
      /^0 of 6 log line\(s\) between "keeper down" started and this step started/,
    );
    expect(down[0]!.detail).toContain(outage[0]);
    // the keeper is back (same id, as a supervisor restarts it) and more lines arrive
    await keeper(prefix, `file://${dir}`);
    const late = await xaddLines(redis(), keys, FEEDER, ['{"msg":"after"}']);
    pc.marks.steps.set(2, { end: await takeMark(fr) });
    const memo: CheckMemo = new Map();
    const res = await waitChecks(pc, argsOf(pb, 3), memo).finally(() => closeMemo(memo));
    expect(res[0]!.detail).toMatch(
      new RegExp(
        `^every log line between "keeper down" started and "keeper back" ended is in file://${dir}: 7 of 7 \\(${outage[0]} … ${late[0]}\\)`,
      ),
    );
    expect(res[0]!.ok).toBe(true);
    // the lines before the outage are outside the range it names; all are in the folder
    const archived = new Set((await readDirArchive(dir)).map((l) => l.entryId));
    for (const id of [...early, ...outage, ...late]) expect(archived.has(id), id).toBe(true);
  }, 60_000);

  it("fails on lines the consumer group skipped, though the group's bookkeeping says all were read", async () => {
    const prefix = 'la2:';
    const keys = redisContract(prefix);
    const dir = makeTempDir('checks-archive');
    const pb = parsePlaybookText(PLAY(`file://${dir}`), 'checks.yaml');
    const { pc, fr } = await context(prefix, pb);
    opened.push(fr);
    pc.current = 3;
    const k = await keeper(prefix, `file://${dir}`);
    await xaddLines(redis(), keys, FEEDER, ['{"msg":"kept"}']);
    await k.stop();
    pc.marks.steps.set(1, { start: await takeMark(fr) });
    const skipped = await xaddLines(redis(), keys, FEEDER, ['{"msg":"a"}', '{"msg":"b"}', '{"msg":"c"}']);
    // what a keeper that skips unread lines on restart does: the group jumps to the end of the stream
    await redis().xgroup('SETID', keys.logStream, KEEPER_GROUP, '$');
    const groups = (await redis().xinfo('GROUPS', keys.logStream)) as unknown[][];
    const g = groups.map((row) => Object.fromEntries(pairs(row))).find((o) => o.name === KEEPER_GROUP)!;
    expect(g['last-delivered-id']).toBe(skipped[2]);
    expect(Number(g.pending)).toBe(0);
    pc.marks.steps.set(2, { end: await takeMark(fr) });
    const res = await onceChecks(pc, argsOf(pb, 3));
    expect(res[0]).toMatchObject({ check: 'logs_archived', ok: false });
    expect(res[0]!.detail).toBe(
      `0 of 3 log line(s) between "keeper down" started and "keeper back" ended are in file://${dir}; not archived: ${skipped.join(', ')}`,
    );
  }, 60_000);

  it('an empty range proves nothing: it fails unless the step says allow_empty', async () => {
    const prefix = 'la3:';
    const dir = makeTempDir('checks-archive');
    fs.mkdirSync(dir, { recursive: true });
    const pb = parsePlaybookText(PLAY(`file://${dir}`), 'checks.yaml');
    const { pc, fr } = await context(prefix, pb);
    opened.push(fr);
    pc.current = 3;
    await xaddLines(redis(), redisContract(prefix), FEEDER, ['{"msg":"older"}']);
    const m = await takeMark(fr);
    pc.marks.steps.set(1, { start: m });
    pc.marks.steps.set(2, { end: m });
    const strict = await onceChecks(pc, argsOf(pb, 3));
    expect(strict[0]).toMatchObject({ ok: false });
    expect(strict[0]!.detail).toMatch(
      /no log line was written between .*: nothing to prove \(allow_empty: true/,
    );
    const lax = await onceChecks(pc, {
      logs_archived: { ...argsOf(pb, 3).logs_archived!, allow_empty: true },
    });
    expect(lax[0]).toMatchObject({ ok: true });
    // an empty stream too
    const empty = await context('la3-empty:', pb);
    opened.push(empty.fr);
    empty.pc.current = 3;
    const res = await onceChecks(empty.pc, {
      logs_archived: { until: 'step', since: 'stream', allow_empty: false, archive: `file://${dir}` },
    });
    expect(res[0]).toMatchObject({ ok: false });
  });

  it('a step that names a mark its step never left fails saying so', async () => {
    const pb = parsePlaybookText(PLAY('file:///nonexistent'), 'checks.yaml');
    const { pc, fr } = await context('la4:', pb);
    opened.push(fr);
    pc.current = 3;
    const res = await onceChecks(pc, argsOf(pb, 3));
    expect(res[0]).toMatchObject({ ok: false });
    expect(res[0]!.detail).toMatch(/step 2 \(keeper back\) left no mark as it ended: it was skipped/);
  });

  describe.skipIf(!motoAvailable())('on S3 (moto)', () => {
    const moto = useMoto();
    it('reads the objects back from the bucket, through the standard chain and AWS_ENDPOINT_URL', async () => {
      // the keeper's and the check's S3 clients both read AWS_ENDPOINT_URL and credentials from the environment
      const saved = Object.entries(moto().env).map(([k, v]) => {
        const was = process.env[k];
        process.env[k] = v;
        return [k, was] as const;
      });
      onTestFinished(() => {
        for (const [k, v] of saved) {
          if (v === undefined) delete process.env[k];
          else process.env[k] = v;
        }
      });
      await createBucket(moto(), 'fg-checks');
      const prefix = 'la5:';
      const keys = redisContract(prefix);
      const url = 's3://fg-checks/fleet';
      const pb = parsePlaybookText(PLAY(url), 'checks.yaml');
      const { pc, fr } = await context(prefix, pb);
      opened.push(fr);
      pc.current = 3;
      pc.marks.steps.set(1, { start: await takeMark(fr) });
      const k = await keeper(prefix, url);
      const ids = await xaddLines(redis(), keys, FEEDER, ['{"msg":"s3 a"}', 'not json at all']);
      pc.marks.steps.set(2, { end: await takeMark(fr) });
      const memo: CheckMemo = new Map();
      const res = await waitChecks(pc, argsOf(pb, 3), memo).finally(() => closeMemo(memo));
      expect(res[0]!.detail).toMatch(/is in s3:\/\/fg-checks\/fleet: \d+ of \d+/);
      expect(res[0]!.ok).toBe(true);
      // a line written after the keeper stopped is not in the bucket: the check says so
      await k.stop();
      const [lost] = await xaddLines(redis(), keys, FEEDER, ['{"msg":"never archived"}']);
      const after = await onceChecks(pc, {
        logs_archived: { ...argsOf(pb, 3).logs_archived!, until: 'step' },
      });
      expect(after[0]).toMatchObject({ ok: false });
      // (the stopping keeper's own last lines are not in it either: the next keeper archives those)
      expect(after[0]!.detail).toMatch(new RegExp(`not archived: .*${lost}`));
      expect(ids).toHaveLength(2);
    }, 60_000);
  });
});

describe('alerts count from this step on, on the Redis clock', () => {
  const alert = (kind: string) =>
    redis().xadd(
      redisContract('al:').alerts,
      '*',
      'kind',
      kind,
      'subject',
      `${kind} test`,
      'text',
      't',
      'delivered',
      'log',
      'keeper',
      'keeper-1',
      'at',
      new Date().toISOString(),
    );

  it('an alert raised before the step started does not count; one raised during it does', async () => {
    const pb = parsePlaybookText(
      `name: a
steps:
  - name: quiet
    wait: { alerts: { kinds: [silence] } }
  - name: since play
    assert: { alerts: { kinds: [silence], at_least: 2, since: play } }
`,
      'a.yaml',
    );
    const { pc, fr } = await context('al:', pb);
    try {
      pc.marks.play = await takeMark(fr);
      // this machine's clock says the play starts in an hour: `play` must not read it
      pc.startedAt = Date.now() + 3_600_000;
      await alert('silence');
      await alert('recovered');
      pc.current = 1;
      const memo: CheckMemo = new Map();
      const first = await evaluate(pc, argsOf(pb, 1), memo, 5000);
      expect(first[0]).toMatchObject({ check: 'alerts', ok: false });
      expect(first[0]!.detail).toBe('0 alert(s) of silence since this step started (want ≥ 1)');
      await alert('silence');
      const second = await evaluate(pc, argsOf(pb, 1), memo, 5000);
      expect(second[0]).toMatchObject({ ok: true });
      expect(second[0]!.detail).toBe('1 alert(s) of silence since this step started (want ≥ 1): silence');
      pc.current = 2;
      const play = await onceChecks(pc, argsOf(pb, 2));
      expect(play[0]!.detail).toBe('2 alert(s) of silence since the play started (want ≥ 2): silence');
      expect(play[0]!.ok).toBe(true);
    } finally {
      fr.close();
    }
  });
});

describe('named points and replaced steps are validated with their lines', () => {
  const problems = (text: string) => {
    try {
      parsePlaybookText(text, 'p.yaml');
    } catch (err) {
      if (err instanceof PlaybookError) return err.problems.map((p) => [p.line, p.path, p.message]);
      throw err;
    }
    throw new Error('expected the playbook to be refused');
  };

  it('a mark must name one earlier step; replaced must name run steps that pick processes', () => {
    expect(
      problems(`name: p
steps:
  - name: kill
    run: { command: "true", role: keeper }
  - name: twice
    run: { command: "true" }
  - name: twice
    run: { command: "true" }
  - wait:
      logs_archived:
        since: { before: later }
        until: { after: nobody }
      alerts: { since: { after: twice } }
      replaced: { steps: [kill, twice] }
  - name: later
    wait:
      logs_archived: { since: { after: kill }, until: { before: kill } }
      replaced: { steps: [later] }
`),
    ).toEqual([
      [
        11,
        'steps.3.wait.logs_archived.since.before',
        expect.stringMatching(/"later", which is not an earlier step/),
      ],
      [
        12,
        'steps.3.wait.logs_archived.until.after',
        expect.stringMatching(/^names "nobody", but no step has that name/),
      ],
      [
        13,
        'steps.3.wait.alerts.since.after',
        expect.stringMatching(/^names "twice", which 2 earlier steps are called/),
      ],
      [
        14,
        'steps.3.wait.replaced.steps.1',
        expect.stringMatching(/^names "twice", which 2 earlier steps are called/),
      ],
      [17, 'steps.4.wait.logs_archived.until', expect.stringMatching(/comes before since/)],
      [18, 'steps.4.wait.replaced.steps.0', expect.stringMatching(/"later", which is not an earlier step/)],
    ]);
    expect(
      problems(`name: p
steps:
  - name: no target
    run: { command: "true" }
  - wait: { replaced: { steps: [no target] }, client: { fresh: true } }
`),
    ).toEqual([
      [5, 'steps.1.wait.client', expect.stringMatching(/^fresh replaces a kept group: give keep too/)],
      [
        5,
        'steps.1.wait.replaced.steps.0',
        expect.stringMatching(/^names "no target", which is not a run step picking processes by role or ids/),
      ],
    ]);
  });
});

function pairs(row: unknown[]): Array<[string, unknown]> {
  const out: Array<[string, unknown]> = [];
  for (let i = 0; i + 1 < row.length; i += 2) out.push([String(row[i]), row[i + 1]]);
  return out;
}
