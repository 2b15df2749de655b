// `god status` shows what the local supervisor recorded: a real role process killed with SIGKILL is restarted,
// and its row counts the restart (↺) and names the signal that ended it, in the table and in --json.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readState } from '../../god/core/local/state.ts';
import { StatusReportSchema } from '../../god/core/status.ts';
import { makeTempDir, waitFor } from '../harness/index.ts';
import { god, godIn, resultOf } from './cli-helpers.ts';

describe('god status restarts and last exit', () => {
  let dir: string;
  const run = (...args: string[]) => godIn(args, { cwd: dir });
  const procOf = (id: string) => readState(path.join(dir, '.god/local'))?.processes.find((p) => p.id === id);

  beforeAll(async () => {
    dir = makeTempDir('god-restarts');
    fs.writeFileSync(
      path.join(dir, 'god.config.yaml'),
      `roles:
  feeder:
    count: 0
  endpoint:
    count: 1
  keeper:
    count: 0
local:
  restart:
    backoff_min: 100ms
    backoff_max: 1s
    stable_after: 5s
  stop_timeout: 5s
`,
    );
    const up = await god(['up', '--json'], { cwd: dir });
    expect(up.code, up.stderr).toBe(0);
  });
  afterAll(async () => {
    await run('down'); // a failed test must not leave the fleet running
  });

  it('a process killed with SIGKILL: restarts goes up and the last exit says SIGKILL', async () => {
    const before = resultOf(await run('status', '--json'), 'status', StatusReportSchema);
    const p0 = before.processes.find((p) => p.id === 'endpoint-1')!;
    expect(p0).toMatchObject({ restarts: 0, last_exit: null });

    const old = procOf('endpoint-1')!.pid!;
    const killedAt = Date.now();
    process.kill(old, 'SIGKILL');
    await waitFor(
      () => {
        const p = procOf('endpoint-1');
        return p?.state === 'running' && p.pid !== old && p.pid !== undefined;
      },
      15_000,
      'endpoint-1 restarted',
    );

    const after = resultOf(await run('status', '--json'), 'status', StatusReportSchema);
    const p1 = after.processes.find((p) => p.id === 'endpoint-1')!;
    expect(p1.restarts).toBe(1);
    expect(p1.last_exit).toMatchObject({ code: null, signal: 'SIGKILL' });
    expect(Date.parse(p1.last_exit!.at)).toBeGreaterThanOrEqual(killedAt - 1000);

    const plain = await run('status');
    const header = plain.stdout.split('\n').find((l) => /^ROLE\s/.test(l))!;
    expect(header).toMatch(/↺\s+LAST EXIT/);
    const row = plain.stdout.split('\n').find((l) => l.includes('endpoint-1'))!;
    expect(row).toMatch(/\s1\s+SIGKILL \d+s ago\s/);
  });
});
