// The watch view (Enter on a movie) and the process detail (Enter on a process), rendered with
// ink-testing-library over a synthetic store; the watch action is a recording stand-in for the SDK client
// (the real client through a real endpoint is test/demo/tmux.test.ts).
import { afterEach, describe, expect, it } from 'vitest';
import type { WatchEvent } from '../../god/core/watch.ts';
import { roleSettings } from '../../god/core/process-options.ts';
import { GodConfigSchema } from '../../god/core/config/schema.ts';

const { cleanup } = await import('ink-testing-library');
const { KEYS, mount, NOW, recordingActions, syntheticStore } = await import('./fixtures.ts');

afterEach(() => cleanup());

const plain = (s: string) => s.replace(/\u001b\[[0-9;]*m/g, '');

describe('watch view', () => {
  it('Enter on a movie watches it: tweets with author and delay; Esc closes the connection', async () => {
    const store = syntheticStore();
    const rec = recordingActions(store);
    let emit!: (ev: WatchEvent) => void;
    const closed: number[] = [];
    rec.actions.watch = (movie, onEvent) => {
      rec.calls.push(`watch ${movie.id} ${movie.title}`);
      emit = onEvent;
      return { started: Promise.resolve(movie), close: () => closed.push(movie.id) };
    };
    const app = mount(store, rec.actions);
    await app.press('4', KEYS.enter);
    expect(rec.calls).toContain('watch 78 Blade Runner');
    expect(plain(app.frame())).toMatch(/Watching Blade Runner \(id 78\)/);
    emit({ kind: 'connected', endpoint: '127.0.0.1:7001' });
    emit({
      kind: 'tweet',
      tweet: {
        movie_id: 78,
        id: 't1',
        author: 'deckard',
        name: 'Rick',
        text: 'tears in\nrain \u001b[31m',
        created_at: new Date(NOW - 85).toISOString(),
        received_at: new Date(NOW).toISOString(),
        delay_ms: 85,
        endpoint: '127.0.0.1:7001',
        history: false,
      },
    });
    store.flush();
    await app.press();
    const f = plain(app.frame());
    expect(f).toMatch(/connected to 127\.0\.0\.1:7001 · 1 tweets/);
    expect(f).toMatch(/@deckard +\+85 ms +tears in rain/);
    expect(app.frame()).not.toContain('\u001b[31m '); // the tweet's escape is shown escaped, not obeyed
    await app.press(KEYS.esc);
    expect(closed).toEqual([78]);
    expect(plain(app.frame())).not.toMatch(/Watching/);
  });

  it('without a watch service the key says so', async () => {
    const store = syntheticStore();
    const app = mount(store, { quit() {} });
    await app.press('4', KEYS.enter);
    expect(plain(app.frame())).toMatch(/watching a movie is not available/);
  });
});

describe('process detail', () => {
  it('Enter on a process: host, pid, version, uptime, restarts, last exit, gauges, redacted options, its log lines', async () => {
    const store = syntheticStore();
    const config = GodConfigSchema.parse({
      provider: 'local',
      roles: {
        feeder: {
          options: { source: 'synthetic', rate: 50 },
          env: { FG_ADMIN_TOKEN: 'hunter2-token', FG_NOTE: 'redis://u:s3cr3t@h:6379' },
        },
      },
    });
    store.fleet.setSettings(roleSettings(config));
    const rows = store.fleet.processes.map((r) =>
      r.id === 'feeder-1'
        ? {
            ...r,
            restarts: 3,
            lastExit: { code: null, signal: 'SIGKILL', at: new Date(NOW - 60_000).toISOString() },
            gauges: { matched_per_s: 212.5, queue: 4 },
          }
        : r,
    );
    store.setProcesses(rows);
    const app = mount(store, recordingActions(store).actions);
    await app.press('2', KEYS.down, KEYS.enter); // endpoint-1, endpoint-2, feeder-1: sorted by role
    let f = plain(app.frame());
    if (!/feeder feeder-1/.test(f)) {
      await app.press(KEYS.esc, KEYS.down, KEYS.enter);
      f = plain(app.frame());
    }
    expect(f).toMatch(/feeder feeder-1 · online/);
    expect(f).toMatch(/host devbox +pid \d+ +version 0\.1\.0 +uptime 2m05/);
    expect(f).toMatch(/restarts 3 +last exit SIGKILL, 1m00 ago/);
    expect(f).toMatch(/gauges +matched_per_s=212\.5 +queue=4/);
    expect(f).toMatch(/options +source=synthetic .*rate=50/);
    expect(f).toMatch(/FG_ADMIN_TOKEN=\*\*\*/);
    expect(f).not.toContain('hunter2');
    expect(f).not.toContain('s3cr3t');
    expect(f).toMatch(/last 20 log line\(s\) of feeder-1/);
    expect(f).toMatch(/feeder says 57/);
    // the detail's log rows (between its header and its esc line) are feeder-1's only
    const all = f.split('\n');
    const from = all.findIndex((l) => /log line\(s\) of feeder-1/.test(l));
    const to = all.findIndex((l, i) => i > from && /esc: back/.test(l));
    const own = all.slice(from + 1, to);
    expect(own.length).toBeGreaterThan(5);
    for (const l of own) expect(l).toMatch(/feeder says \d+/);
    await app.press(KEYS.esc);
    expect(plain(app.frame())).not.toMatch(/log line\(s\) of/);
  });
});
