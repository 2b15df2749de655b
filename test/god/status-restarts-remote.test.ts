// The remote half of `god status`'s restarts and last exit: the host supervisor (fg-supervisor.mjs, as shipped)
// keeps a role process alive and records each crash in run/<id>.state; the deploy state's one read-only
// shell command (run here by a real sh, as ssh runs it on a host) brings that back, checked.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { parseState, stateCommand } from '../../god/core/deploy/remote-state.ts';
import type { DeployHost } from '../../god/core/deploy/types.ts';
import { makeTempDir, pidAlive, spawnTracked, waitFor, waitForExit } from '../harness/index.ts';

const SUPERVISOR = path.resolve(import.meta.dirname, '../../god/core/deploy/remote/fg-supervisor.mjs');
const sh = promisify(execFile);

describe('remote supervisor state for god status', () => {
  const base = makeTempDir('god-remote-restarts');
  const host = { name: 'hostA', host: '127.0.0.1', baseDir: base, processes: [] } as unknown as DeployHost;
  const stateOf = () => {
    try {
      return JSON.parse(fs.readFileSync(path.join(base, 'run', 'endpoint-1.state'), 'utf8'));
    } catch {
      return undefined;
    }
  };
  let sup: ReturnType<typeof spawnTracked> | undefined;
  afterAll(async () => {
    sup?.kill('SIGTERM');
    if (sup) await waitForExit(sup, 10_000);
  });

  it('a role process killed with SIGKILL: the state read says 1 restart, last exit SIGKILL', async () => {
    for (const d of ['run', 'logs', 'current']) fs.mkdirSync(path.join(base, d), { recursive: true });
    // a stand-in role bundle: the supervisor is what is under test
    fs.writeFileSync(path.join(base, 'current', 'endpoint.mjs'), 'setInterval(() => {}, 1000);\n');
    fs.writeFileSync(
      path.join(base, 'run', 'endpoint-1.json'),
      JSON.stringify({ role: 'endpoint', id: 'endpoint-1', env: {} }),
    );
    sup = spawnTracked(process.execPath, [SUPERVISOR, base, 'endpoint-1'], {
      env: { ...process.env, FG_SUPERVISOR: JSON.stringify({ kill_ms: 2000 }) },
      name: 'fg-supervisor',
    });
    await waitFor(() => typeof stateOf()?.child_pid === 'number', 10_000, 'the role started');
    const before = parseState(host, (await sh('sh', ['-c', stateCommand(host, undefined, false)])).stdout);
    expect(before.supervision.get('endpoint-1')).toEqual({ restarts: 0, last_exit: null });

    const old = stateOf().child_pid as number;
    process.kill(old, 'SIGKILL');
    await waitFor(
      () => {
        const s = stateOf();
        return (
          s?.restarts === 1 && typeof s.child_pid === 'number' && s.child_pid !== old && pidAlive(s.child_pid)
        );
      },
      10_000,
      'the role restarted',
    );
    const after = parseState(host, (await sh('sh', ['-c', stateCommand(host, undefined, false)])).stdout);
    expect(after.supervision.get('endpoint-1')).toMatchObject({
      restarts: 1,
      last_exit: { code: null, signal: 'SIGKILL' },
    });
  });

  it('a state file that is not the supervisor’s is ignored, not a crash', () => {
    const out = [
      '@@supervision',
      'x-1 {not json',
      'x-2 {"restarts":"many","last_exit":7}',
      'x-3',
      '@@end',
    ].join('\n');
    const st = parseState(host, out);
    expect(st.supervision.has('x-1')).toBe(false);
    // wrong types fall back to "nothing known" rather than failing the whole read
    expect(st.supervision.get('x-2')).toEqual({ restarts: 0, last_exit: null });
  });
});
