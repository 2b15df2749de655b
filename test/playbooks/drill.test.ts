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
    await godIn(['down'], { cwd: dir });
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
    const moved = res.steps.find((s) => s.name === 'its clients moved to another endpoint')!;
    expect(moved.detail).toMatch(/drill: 12\/12 connected, [1-9]\d* moved/);
    expect(res.steps.find((s) => s.name === 'no log line was lost')!.detail).toMatch(
      /every log line up to .* is archived/,
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
    } finally {
      redis.disconnect();
    }
  }, 240_000);
});
