// `god demo --headless`: the whole system for a few seconds, as CI runs it — real redis-server, feeder,
// endpoints, keeper and SDK clients; the summary says it all worked and nothing is left running after.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../god/cli/main.ts';
import { pidAlive as alive, spawnTracked, waitForExit } from '../harness/index.ts';

const ROOT = path.resolve(import.meta.dirname, '..', '..');

function run(args: string[], env: NodeJS.ProcessEnv = {}) {
  const { CI: _ci, GOD_JSON: _j, ...rest } = process.env;
  const child = spawnTracked(process.execPath, [path.join(ROOT, 'bin', 'god.mjs'), 'demo', ...args], {
    cwd: ROOT,
    env: { ...rest, ...env },
    name: 'god-demo',
  });
  const out: string[] = [];
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    const lines = buf.split('\n');
    buf = lines.pop()!;
    out.push(...lines);
  });
  return { child, out };
}

describe('god demo --headless', () => {
  it('runs the fleet and clients, prints progress and a summary as NDJSON, and stops everything', async () => {
    const { child, out } = run([
      '--headless',
      '--duration',
      '9s',
      '--clients',
      '6',
      '--rate',
      '150',
      '--json',
    ]);
    expect(await waitForExit(child, 60_000)).toBe(true);
    const lines = out.filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    const result = lines.find((l) => l.type === 'result') as {
      ok: boolean;
      command: string;
      data: {
        ok: boolean;
        problems: string[];
        state_dir: string | null;
        archive: string;
        processes: Array<{ role: string; state: string; pid: number | null }>;
        clients: { joined: number; on_endpoints: number; target: number };
        tweets: { feeder_per_s: number; delivered_total: number };
        top_movies: Array<{ title: string; count: number }>;
        archived_lines: number;
      };
    };
    expect(result, `no result line in:\n${out.join('\n')}`).toBeDefined();
    expect(result.command).toBe('demo');
    const s = result.data;
    expect(s.problems).toEqual([]);
    expect(s.ok).toBe(true);
    expect(child.exitCode).toBe(0);
    expect(s.processes.map((p) => `${p.role}:${p.state}`).sort()).toEqual([
      'endpoint:up',
      'endpoint:up',
      'feeder:up',
      'keeper:up',
    ]);
    expect(s.clients.joined).toBeGreaterThan(0);
    expect(s.tweets.feeder_per_s).toBeGreaterThan(0);
    expect(s.top_movies.length).toBeGreaterThan(0);
    expect(s.top_movies[0]!.count).toBeGreaterThan(0);
    expect(s.archived_lines).toBeGreaterThan(0);
    // the role processes and God's events went by as NDJSON too
    expect(lines.some((l) => l.type === 'process' && l.action === 'started')).toBe(true);
    expect(lines.some((l) => l.type === 'progress')).toBe(true);
    // nothing survives: the roles are stopped and the temporary state (with its archive) is gone
    for (const p of s.processes)
      if (p.pid) expect(alive(p.pid), `pid ${p.pid} (${p.role}) still runs`).toBe(false);
    expect(s.state_dir).toBeNull();
    expect(fs.existsSync(new URL(s.archive).pathname)).toBe(false);
  }, 90_000);

  it('refuses a bad flag with what to do, before starting anything', async () => {
    const err: string[] = [];
    const code = await runCli(['demo', '--headless', '--duration', 'soon'], {
      stdout: { write: () => true },
      stderr: { write: (s: string) => err.push(s) },
      env: {},
    });
    expect(code).toBe(2);
    expect(err.join('')).toMatch(/--duration soon is not a duration[\s\S]*30s/);
    const err2: string[] = [];
    expect(
      await runCli(['demo', '--clients', 'many'], {
        stderr: { write: (s: string) => err2.push(s) },
        env: {},
      }),
    ).toBe(2);
    expect(err2.join('')).toMatch(/--clients must be a whole number/);
  });
});
