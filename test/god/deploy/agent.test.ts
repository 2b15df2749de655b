// The host agent run directly (no SSH): history, pruning to the last N releases, forgetting a failed release,
// checksum verification, and the supervisor's start/stop of a process.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { enterableByOthers, makeTempDir, waitFor } from '../../harness/index.ts';

const REMOTE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../god/core/deploy/remote');

function agent(base: string, version: string, req: Record<string, unknown>, env?: Record<string, string>) {
  const r = spawnSync(process.execPath, [path.join(base, 'releases', version, 'fg-agent.mjs')], {
    input: JSON.stringify({ base, mode: 'supervisor', ...req }),
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}');
}

function release(base: string, v: string, extra: Record<string, string> = {}) {
  const dir = path.join(base, 'releases', v);
  fs.mkdirSync(dir, { recursive: true });
  for (const f of ['fg-agent.mjs', 'fg-supervisor.mjs'])
    fs.copyFileSync(path.join(REMOTE, f), path.join(dir, f));
  for (const [f, text] of Object.entries(extra)) fs.writeFileSync(path.join(dir, f), text);
}

describe('host agent', () => {
  it('keeps the last 5 releases, never the current one, and forgets failed ones', () => {
    const base = makeTempDir('agent');
    for (let i = 1; i <= 7; i++) {
      release(base, `v${i}`);
      expect(agent(base, `v${i}`, { cmd: 'activate', version: `v${i}`, keep: 5 })).toMatchObject({
        ok: true,
        current: `v${i}`,
      });
    }
    expect(fs.readdirSync(path.join(base, 'releases')).sort()).toEqual(['v3', 'v4', 'v5', 'v6', 'v7']);
    expect(fs.readlinkSync(path.join(base, 'current'))).toBe('releases/v7');
    // back to v6, forgetting v7 (what a failed health check does)
    const out = agent(base, 'v6', { cmd: 'activate', version: 'v6', keep: 5, forget: ['v7'] });
    expect(out).toMatchObject({ ok: true, previous: 'v7', current: 'v6', pruned: ['v7'] });
    expect(fs.readFileSync(path.join(base, 'releases.log'), 'utf8')).toBe('v1\nv2\nv3\nv4\nv5\nv6\n');
    expect(agent(base, 'v6', { cmd: 'status' })).toMatchObject({ ok: true, current: 'v6', processes: [] });
  });

  it('refuses a release whose files do not match their checksums', () => {
    const base = makeTempDir('agent');
    release(base, 'v1', { 'feeder.mjs': 'corrupt' });
    const out = agent(base, 'v1', { cmd: 'activate', version: 'v1', sums: { 'feeder.mjs': '0'.repeat(64) } });
    expect(out.ok).toBe(false);
    expect(out.error).toMatch(/feeder\.mjs has sha256 .*expected 0000.*corrupt upload/);
    expect(fs.existsSync(path.join(base, 'current'))).toBe(false);
  });

  it('starts a process under the supervisor, restarts it on a crash, stops it', async () => {
    const base = makeTempDir('agent');
    // run as the fleet user when we are root: it must reach base (a host's /opt/filmgrain is enterable)
    enterableByOthers(base);
    // a "role" that crashes on its first run and then stays up; it writes only in its own folder (its HOME)
    release(base, 'v1', {
      'keeper.mjs': `import fs from 'node:fs';
const f = process.env.HOME + '/mark';
if (!fs.existsSync(f)) { fs.writeFileSync(f, 'x'); process.exit(3); }
setInterval(() => {}, 1000);
process.on('SIGTERM', () => process.exit(0));`,
    });
    const out = agent(base, 'v1', {
      cmd: 'activate',
      version: 'v1',
      processes: [{ role: 'keeper', id: 'k1', env: {} }],
      restart: ['k1'],
    });
    expect(out).toMatchObject({ ok: true, started: [{ id: 'k1' }] });
    const state = () => JSON.parse(fs.readFileSync(path.join(base, 'run', 'k1.state'), 'utf8'));
    await waitFor(() => state().restarts === 1 && state().child_pid > 0, 10_000, 'a restart after the crash');
    expect(state().last_exit).toMatchObject({ code: 3 });
    const child = state().child_pid;
    expect(agent(base, 'v1', { cmd: 'status' }).processes).toMatchObject([
      { id: 'k1', role: 'keeper', running: true },
    ]);
    expect(agent(base, 'v1', { cmd: 'stop', ids: ['k1'] })).toMatchObject({
      ok: true,
      stopped: [{ id: 'k1', was_running: true }],
    });
    expect(() => process.kill(child, 0)).toThrow();
    expect(fs.existsSync(path.join(base, 'run', 'k1.pid'))).toBe(false);
  });

  it("moves a root-run keeper's spool into the fleet user's before starting it (an upgrade strands no object)", async () => {
    const base = makeTempDir('agent');
    enterableByOthers(base);
    // the agent's own (root's) state home, where the keeper of the earlier release spooled
    const rootState = makeTempDir('agent-root-state');
    const legacy = path.join(rootState, 'filmgrain', 'spool', 'k2');
    fs.mkdirSync(legacy, { recursive: true, mode: 0o700 });
    fs.writeFileSync(path.join(legacy, '000007.obj'), 'spooled during an outage', { mode: 0o600 });
    release(base, 'v1', {
      'keeper.mjs': "setInterval(() => {}, 1000); process.on('SIGTERM', () => process.exit(0));",
    });
    const out = agent(
      base,
      'v1',
      { cmd: 'activate', version: 'v1', processes: [{ role: 'keeper', id: 'k2', env: {} }], restart: ['k2'] },
      { XDG_STATE_HOME: rootState },
    );
    expect(out).toMatchObject({ ok: true, started: [{ id: 'k2', spool: { moved: 1, left: 0 } }] });
    const spool = path.join(base, 'state', 'k2', 'filmgrain', 'spool', 'k2');
    expect(fs.readFileSync(path.join(spool, '000007.obj'), 'utf8')).toBe('spooled during an outage');
    expect(fs.existsSync(legacy)).toBe(false);
    // the keeper runs as the fleet user: it must own its spool (it refuses a folder of another user)
    expect(fs.statSync(spool).uid).toBe(fs.statSync(path.join(base, 'state', 'k2')).uid);
    expect(agent(base, 'v1', { cmd: 'stop', ids: ['k2'] })).toMatchObject({ ok: true });
  });
});
