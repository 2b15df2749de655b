// drill.yaml against the local provider: an endpoint and the keeper are SIGKILLed; the play checks the
// clients came back on another endpoint, the log lines of the outage were archived, and the keeper's
// silence and recovery alerts fired. The keeper's silence window is 3 s and it flushes archive objects every
// second here, so the drill stays short.
import fs from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readState } from '../../god/core/local/state.ts';
import { OperationResultSchema } from '../../god/core/operations.ts';
import { PlayResultSchema } from '../../god/core/playbook/runner.ts';
import { AlertFieldsSchema, redisContract } from '../../protocol/redis-contract.ts';
import { makeTempDir, pidAlive } from '../harness/index.ts';
import { godIn, resultOf } from '../god/cli-helpers.ts';
import { readDirArchive } from '../keeper/helpers.ts';

const DRILL = path.resolve(import.meta.dirname, '../../playbooks/drill.yaml');
const TEST_CATALOG = path.resolve(import.meta.dirname, '../../data/test-catalog.json');
const keys = redisContract('fg:');

describe('drill.yaml against the local provider', () => {
  let dir: string;
  beforeAll(() => {
    dir = makeTempDir('play-drill');
    fs.writeFileSync(
      path.join(dir, 'god.config.yaml'),
      `roles:
  feeder:
    options: { catalog: ${TEST_CATALOG}, rate: 5 }
  keeper:
    options:
      alerts: { silence: 3s }
      flush: 1s
local:
  restart: { backoff_min: 200ms, backoff_max: 2s, stable_after: 5s }
  stop_timeout: 8s
`,
    );
  });
  afterAll(async () => {
    await godIn(['down', '--yes'], { cwd: dir });
  });

  it('kills an endpoint and the keeper; clients moved, logs archived, alerts fired', async () => {
    resultOf(await godIn(['up', '--json'], { cwd: dir }), 'up', OperationResultSchema);
    const stateDir = path.join(dir, '.god/local');
    const before = readState(stateDir)!;
    const pidOf = (id: string) => before.processes.find((p) => p.id === id)!.pid!;
    const r = await godIn(['play', DRILL, '--json', '--var', 'quiet=30s'], { cwd: dir });
    const res = resultOf(r, 'play', PlayResultSchema);
    expect(res.steps.every((s) => s.status === 'ok')).toBe(true);
    // the endpoint and the keeper were really killed (and restarted by the supervisor)
    expect(pidAlive(pidOf('endpoint-1'))).toBe(false);
    expect(pidAlive(pidOf('keeper-1'))).toBe(false);
    const kills = r.lines.filter((l) => l.type === 'host' && l.step === 'run' && l.phase === 'end');
    expect(kills.map((l) => l.ok)).toEqual([true, true]);
    // new processes run under both ids now
    const after = readState(stateDir)!;
    for (const id of ['endpoint-1', 'keeper-1']) {
      const now = after.processes.find((p) => p.id === id)!.pid!;
      expect(now, id).not.toBe(pidOf(id));
      expect(pidAlive(now), id).toBe(true);
    }
    // "restarted" meant new processes, not the dead ones' heartbeat keys (which outlive them by seconds)
    const restarted = res.steps.find((s) => s.name === 'everything is restarted and beats')!.detail!;
    for (const id of ['endpoint-1', 'keeper-1']) {
      const m = new RegExp(`${id}: pid (\\d+) → pid (\\d+)`).exec(restarted);
      expect(m, restarted).not.toBeNull();
      expect(Number(m![1])).toBe(pidOf(id));
      expect(Number(m![2])).not.toBe(pidOf(id));
    }
    // the keeper-1 of now is the supervisor's restart, not a later provision: it started before the play ended
    const keeperNow = after.processes.find((p) => p.id === 'keeper-1')!.pid!;
    expect(restarted).toContain(`keeper-1: pid ${pidOf('keeper-1')} → pid ${keeperNow}`);
    const moved = res.steps.find((s) => s.name === 'its clients moved to another endpoint')!;
    expect(moved.detail).toMatch(/drill: 12\/12 connected, [1-9]\d* moved/);
    expect(res.steps.find((s) => s.name === 'no log line was lost')!.detail).toMatch(
      /^every log line between "kill the keeper" started and "everything is restarted and beats" ended is in file:\/\/.*: (\d+) of \1 /,
    );
    // the alerts the play saw are in the alerts stream, silence then recovered
    const redis = new Redis(readState(stateDir)!.redis_url);
    try {
      const entries = (await redis.xrange(
        keys.alerts,
        String(Date.parse(r.lines[0]!.at as string)),
        '+',
      )) as Array<[string, string[]]>;
      const kinds = entries.map(([, flat]) => {
        const o: Record<string, string> = {};
        for (let i = 0; i + 1 < flat.length; i += 2) o[flat[i]!] = flat[i + 1]!;
        return AlertFieldsSchema.parse(o).kind;
      });
      expect(kinds).toContain('silence');
      expect(kinds.lastIndexOf('recovered')).toBeGreaterThan(kinds.indexOf('silence'));
      // every line written while the keeper was down (from its kill until its new process started) is in the
      // archive folder itself
      const killAt = Date.parse(String(kills[1]!.at));
      const beat = JSON.parse((await redis.get(keys.heartbeat('keeper', 'keeper-1')))!) as {
        started_at: string;
      };
      const backAt = Date.parse(beat.started_at);
      expect(backAt).toBeGreaterThan(killAt);
      const outage = (
        (await redis.xrange(keys.logStream, String(killAt), String(backAt))) as Array<[string, unknown]>
      ).map(([id]) => id);
      expect(outage.length).toBeGreaterThan(0);
      const archived = new Set((await readDirArchive(path.join(stateDir, 'archive'))).map((l) => l.entryId));
      expect(outage.filter((id) => !archived.has(id))).toEqual([]);
    } finally {
      redis.disconnect();
    }
  }, 240_000);
});
