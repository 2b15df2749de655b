// The demo in a real terminal: tmux runs `god demo` at 120x40, we read the screen with capture-pane and type
// with send-keys — processes up, ranking moving, logs flowing, filter and help; then the window shrinks to
// 80x24 (one pane at a time, tab/shift-tab/numbers switch); `q` stops everything and no process survives.
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeTempDir, pidAlive as alive, skipWithout, sleep, waitFor } from '../harness/index.ts';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const SOCKET = `fg-tui-test-${process.pid}`;
const SESSION = 'demo';
const GOD = path.join(ROOT, 'bin', 'god.mjs');

/** `god ARGS` against the demo's state folder, as a plain (non-TTY) terminal runs it. */
function god(stateDir: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const env = { ...process.env, GOD_JSON: undefined, CI: '1' };
    execFile(
      process.execPath,
      [GOD, '--state-dir', stateDir, ...args],
      { env, timeout: 60_000 },
      (err, stdout, stderr) =>
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const hasTmux = (() => {
  try {
    execFileSync('tmux', ['-V']);
    return true;
  } catch {
    return false;
  }
})();

function tmux(...args: string[]): string {
  return execFileSync('tmux', ['-L', SOCKET, '-f', '/dev/null', ...args], { encoding: 'utf8' });
}
const screen = () => tmux('capture-pane', '-p', '-t', SESSION);
const keys = (...k: string[]) => tmux('send-keys', '-t', SESSION, ...k);

/** pid and every descendant (from /proc), so we can tell what the demo started and check it is gone. */
function tree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(e)]);
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    out.push(p);
    for (const c of children.get(p) ?? []) walk(c);
  };
  walk(root);
  return out;
}

let panePid: number | undefined;
let started: number[] = [];

afterAll(async () => {
  // a failed test must not leave the fleet behind: stop what the pane started, then the tmux server
  if (panePid) {
    const left = [...new Set([...started, ...tree(panePid)])].filter(alive);
    for (const p of left) {
      try {
        process.kill(p, 'SIGTERM');
      } catch {}
    }
    await sleep(1500);
    for (const p of left.filter(alive)) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {}
    }
  }
  try {
    tmux('kill-server');
  } catch {}
});

const logCount = (s: string) => Number(/3 Logs\s+(?:\d+\/)?(\d+) lines/.exec(s)?.[1] ?? -1);
/** the ranking rows of the Movies pane: "  1 Title   42 ▲ ▁▂█" */
const rankingRows = (s: string) => s.split('\n').filter((l) => /^\s*\d+ .+\s\d+ [▲▼+ ] /.test(l.slice(75)));

describe.skipIf(skipWithout({ tmux: hasTmux }, 'apt-get install -y tmux'))('god demo in tmux', () => {
  it('shows the fleet live, reacts to keys at 120x40 and 80x24, and q leaves nothing running', async () => {
    const stateDir = makeTempDir('fg-tui-demo-');
    const cmd = `cd ${ROOT} && env -u CI -u GOD_JSON TERM=xterm-256color ${process.execPath} bin/god.mjs --state-dir ${stateDir} demo --clients 10; echo DEMO-EXIT=$?; sleep 60`;
    tmux('new-session', '-d', '-s', SESSION, '-x', '120', '-y', '40', cmd);
    panePid = Number(tmux('display-message', '-p', '-t', SESSION, '#{pane_pid}').trim());

    // processes running and a ranking on screen
    await waitFor(
      () => /4\/4 up/.test(screen()) && rankingRows(screen()).length >= 5,
      90_000,
      'the dashboard with 4/4 up and a ranking',
    );
    started = tree(panePid);
    expect(started.length).toBeGreaterThan(5); // shell, god, redis-server, feeder, 2 endpoints, keeper
    const a = screen();
    expect(a).toMatch(/2 Processes\s+4 processes/);
    for (const id of ['feeder-1', 'endpoint-1', 'endpoint-2', 'keeper-1'])
      expect(a).toMatch(new RegExp(`${id} .* online`));
    expect(a.trimEnd().split('\n').length).toBeLessThanOrEqual(40);

    // the ranking moves and the logs flow
    await waitFor(
      () => {
        const b = screen();
        return logCount(b) > logCount(a) && rankingRows(b).join('\n') !== rankingRows(a).join('\n');
      },
      20_000,
      'log lines arriving and the ranking changing',
    );
    // the simulated clients connect once the keeper has written endpoints.json
    await waitFor(
      () => /[1-9]\d* clients · [1-9][\d.]* tw\/s/.test(screen()),
      30_000,
      'clients connected and tweets flowing',
    );

    // Enter on the top movie: God watches it through an endpoint as a user would; a tweet shows with its author
    keys('4');
    await waitFor(() => /4 Movies/.test(screen()), 5000, 'the Movies pane focused');
    keys('Enter');
    await waitFor(
      () => /Watching .+ \(id \d+\)/.test(screen()) && /@\S+ +\+-?[\d.]+ m?s /.test(screen()),
      30_000,
      'the watch view with a tweet, its author and delay',
    );
    const watching = screen();
    expect(watching).toMatch(/connected to 127\.0\.0\.1:\d+|feed started/);
    const movieId = /Watching .+ \(id (\d+)\)/.exec(watching)![1]!;
    // the same feed in a plain terminal: `god watch ID --json`, one NDJSON line per tweet
    const watched = await god(stateDir, 'watch', movieId, '--count', '2', '--json');
    expect(watched.code, watched.stderr).toBe(0);
    const tweets = watched.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { type: string; movie_id?: number; author?: string; delay_ms?: number });
    const got = tweets.filter((t) => t.type === 'tweet');
    expect(got.length).toBe(2);
    for (const t of got) {
      expect(t.movie_id).toBe(Number(movieId));
      expect(t.author).toMatch(/\S/);
      expect(typeof t.delay_ms).toBe('number');
    }
    // an ambiguous title lists the choices and exits with a usage error
    const vague = await god(stateDir, 'watch', 'the', '--count', '1');
    expect(vague.code).toBe(2);
    expect(vague.stderr).toMatch(/"the" matches \d+ movies/);
    expect(vague.stderr).toMatch(/^\s+\d+\s+\S.*$/m);
    keys('Escape');
    await waitFor(() => !/Watching /.test(screen()), 5000, 'the watch view closed');

    // Enter on a process: its detail, Esc back
    keys('2');
    await sleep(200);
    keys('Enter');
    await waitFor(() => /last \d+ log line\(s\) of endpoint-1/.test(screen()), 10_000, 'the process detail');
    const detail = screen();
    expect(detail).toMatch(/endpoint endpoint-1 · online/);
    expect(detail).toMatch(/host \S+ +pid \d+ +version \S+ +uptime \S+/);
    expect(detail).toMatch(/restarts \d+ +last exit /);
    expect(detail).toMatch(/gauges +.*clients=\d+/);
    expect(detail).toMatch(/options +.*public_host=127\.0\.0\.1/);
    keys('Escape');
    await waitFor(() => !/last \d+ log line/.test(screen()), 5000, 'the detail closed');

    // filter the log by role
    keys('/');
    await sleep(200);
    keys('r', 'o', 'l', 'e', ':', 'f', 'e', 'e', 'd', 'e', 'r', 'Enter');
    await waitFor(() => /filter: role:feeder/.test(screen()), 5000, 'the filtered Logs title');
    const logLines = screen()
      .split('\n')
      .filter((l) => /^\d\d:\d\d:\d\d \S+@/.test(l));
    expect(logLines.length).toBeGreaterThan(0);
    for (const l of logLines) expect(l).toMatch(/^\d\d:\d\d:\d\d feeder@/);
    keys('Escape');
    await waitFor(() => !/filter: role:feeder/.test(screen()), 5000, 'the filter cleared');

    // help opens and any key closes it
    keys('?');
    await waitFor(() => /Keys \(any key closes\)/.test(screen()), 5000, 'the help screen');
    keys('x');
    await waitFor(() => !/Keys \(any key closes\)/.test(screen()), 5000, 'help closed');
    expect(screen()).not.toMatch(/Stop endpoint/); // the key that closed help did nothing else

    // a smaller terminal: one pane at a time with a tab bar
    tmux('resize-window', '-t', SESSION, '-x', '80', '-y', '24');
    await waitFor(
      () => /1 Fleet\s+2 Processes\s+3 Logs\s+4 Movies\s+5 Alerts/.test(screen()),
      10_000,
      'the tab bar at 80x24',
    );
    let s = screen();
    expect(Math.max(...s.split('\n').map((l) => l.trimEnd().length))).toBeLessThanOrEqual(80);
    expect(s).toMatch(/ROLE +ID .*STATUS/);
    expect(s).not.toMatch(/VERSION/);
    keys('4');
    await waitFor(
      () => /4 Movies\s+\d+ movies/.test(screen()) && !/ROLE +ID/.test(screen()),
      5000,
      'the Movies pane',
    );
    keys('Tab');
    await waitFor(() => /5 Alerts\s+(none|\d+ alerts)/.test(screen()), 5000, 'the Alerts pane after tab');
    keys('BTab');
    await waitFor(() => /4 Movies\s+\d+ movies/.test(screen()), 5000, 'the Movies pane after shift-tab');
    keys('3');
    await waitFor(() => /3 Logs\s+\d+ lines/.test(screen()), 5000, 'the Logs pane');
    s = screen();
    expect(s).toMatch(/^\d\d:\d\d:\d\d \S+@\S+ +(INFO|WARN|DEBUG|ERROR)/m);

    // q stops everything
    keys('q');
    await waitFor(() => /DEMO-EXIT=\d+/.test(screen()), 30_000, 'the demo to exit');
    expect(screen()).toMatch(/DEMO-EXIT=0/);
    const shell = panePid;
    await waitFor(
      () => started.filter((p) => p !== shell && alive(p)).length === 0,
      10_000,
      'every process the demo started to exit',
    );
  }, 150_000);
});
