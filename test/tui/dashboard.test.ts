// Every pane and key binding of the Ink dashboard, rendered with ink-testing-library over a synthetic store.
import { afterEach, describe, expect, it } from 'vitest';

// colors are part of what is tested (red rows); Ink's color support is decided when it loads
process.env.FORCE_COLOR = '1';
const { cleanup } = await import('ink-testing-library');
const { KEYS, mount, NOW, recordingActions, syntheticStore } = await import('./fixtures.ts');

afterEach(() => cleanup());

const lines = (frame: string) => frame.split('\n');
const lineWith = (frame: string, text: string) => lines(frame).find((l) => l.includes(text)) ?? '';
const plain = (s: string) => s.replace(/\u001b\[[0-9;]*m/g, '');
const RED = '\u001b[31m';

describe('panes at 120x40 (all panes at once)', () => {
  it('shows header, every pane, and the footer within the terminal height', () => {
    const store = syntheticStore();
    const app = mount(store, recordingActions(store).actions);
    const f = plain(app.frame());
    for (const title of ['1 Fleet', '2 Processes', '3 Logs', '4 Movies', '5 Alerts'])
      expect(f).toContain(title);
    expect(f).toContain('2/4 up');
    expect(f).toContain('41 clients');
    expect(f).toContain('212.5 tw/s');
    expect(lines(f)[lines(f).length - 1]).toMatch(/\? help .*q quit/);
    expect(lines(f).length).toBeLessThanOrEqual(39);
    expect(Math.max(...lines(f).map((l) => l.length))).toBeLessThanOrEqual(120);
  });

  it('Processes: pm2-like columns, red rows for missing and stale processes', () => {
    const store = syntheticStore();
    const app = mount(store, recordingActions(store).actions);
    const f = plain(app.frame());
    expect(lineWith(f, 'ROLE')).toMatch(/ROLE +ID .*CPU% +RSS +CLIENTS +TW\/S +BEAT STATUS/);
    expect(lineWith(f, 'feeder-1 ')).toMatch(/feeder +feeder-1 .*31\.4 .*67\.7M .*212\.5 +1s online/);
    expect(lineWith(f, 'endpoint-2')).toMatch(/stale/);
    expect(lineWith(f, 'keeper-1')).toMatch(/missing/);
    expect(lineWith(app.frame(), 'keeper-1')).toContain(RED);
    expect(lineWith(app.frame(), 'endpoint-2')).toContain(RED);
    expect(lineWith(app.frame(), 'endpoint-1 ')).not.toContain(RED);
    expect(lineWith(f, '2 Processes')).toContain('4 processes · 2 down');
  });

  it('Logs: time, role@host, level and message; newest at the bottom', () => {
    const store = syntheticStore();
    const app = mount(store, recordingActions(store).actions);
    const f = plain(app.frame());
    expect(lineWith(f, '3 Logs')).toContain('60 lines · following');
    const last = lineWith(f, 'keeper says 59');
    expect(last).toMatch(/\d\d:\d\d:\d\d keeper@devbox +WARN +keeper says 59/);
    expect(last).not.toMatch(/\d\d:\d\d:\d\d\.\d{3}/); // the 74-column log pane has no room for ms
    expect(lineWith(f, 'feeder says 57')).toMatch(/ERROR/);
    expect(lines(f).findIndex((l) => l.includes('says 58'))).toBeLessThan(
      lines(f).findIndex((l) => l.includes('says 59')),
    );
  });

  it('Movies: rank, title, count, movement and a sparkline', () => {
    const store = syntheticStore();
    const app = mount(store, recordingActions(store).actions);
    const f = plain(app.frame());
    expect(lineWith(f, 'Blade Runner')).toMatch(/1 Blade Runner +140 ▲ [▁▂▃▄▅▆▇█]+$/);
    expect(lineWith(f, 'The Matrix')).toMatch(/2 The Matrix +120 ▼/);
    expect(lineWith(f, 'Blade Runner')).toContain('█'); // the biggest growth
    expect(lineWith(f, '4 Movies')).toContain('3 movies · updated 0s ago');
  });

  it('Fleet and Alerts', () => {
    const store = syntheticStore();
    const app = mount(store, recordingActions(store).actions);
    const f = plain(app.frame());
    expect(lineWith(f, 'running')).toMatch(/devbox +127\.0\.0\.1 +running/);
    expect(lineWith(f, 'silence')).toMatch(/silence +no log line from feeder-1/);
    expect(lineWith(f, '5 Alerts')).toContain('1 alerts · 1 errors');
  });
});

describe('panes at 80x24 (one pane at a time, fewer columns)', () => {
  it('shows a tab bar and the focused pane; narrow tables drop columns', () => {
    const store = syntheticStore();
    const app = mount(store, recordingActions(store).actions, { columns: 80, rows: 24 });
    const f = plain(app.frame());
    expect(lines(f)[1]).toMatch(/1 Fleet +2 Processes +3 Logs +4 Movies +5 Alerts/);
    expect(f).toContain('feeder-1');
    expect(f).not.toContain('VERSION');
    expect(f).not.toContain('PID');
    expect(lineWith(f, 'ROLE')).toMatch(/STATUS/);
    expect(lines(f).length).toBeLessThanOrEqual(23);
    expect(Math.max(...lines(f).map((l) => l.length))).toBeLessThanOrEqual(80);
    expect(lines(f)[lines(f).length - 1]).toMatch(/\? help q quit/);
  });

  it('drops columns further at 60 wide but keeps role, id and status', () => {
    const store = syntheticStore();
    const app = mount(store, recordingActions(store).actions, { columns: 60, rows: 24 });
    const header = lineWith(plain(app.frame()), 'ROLE');
    expect(header).toMatch(/ROLE +ID/);
    expect(header).toContain('STATUS');
    expect(header).not.toContain('RSS');
  });

  it('logs drop milliseconds at 80 wide, and the host at 60', async () => {
    const store = syntheticStore();
    let app = mount(store, recordingActions(store).actions, { columns: 80, rows: 24 });
    await app.press('3');
    expect(lineWith(plain(app.frame()), 'keeper says 59')).toMatch(/^\d\d:\d\d:\d\d keeper@devbox +WARN/);
    app.unmount();
    app = mount(store, recordingActions(store).actions, { columns: 60, rows: 24 });
    expect(lineWith(plain(app.frame()), 'keeper says 59')).toMatch(/^\d\d:\d\d:\d\d keeper +WARN/);
  });
});

describe('keys', () => {
  it('tab, shift-tab and number keys switch panes', async () => {
    const store = syntheticStore();
    const app = mount(store, recordingActions(store).actions, { columns: 80, rows: 24 });
    expect(store.view.focus).toBe('processes');
    await app.press(KEYS.tab);
    expect(store.view.focus).toBe('logs');
    expect(plain(app.frame())).toContain('keeper says 59');
    await app.press(KEYS.tab, KEYS.tab, KEYS.tab);
    expect(store.view.focus).toBe('fleet');
    await app.press(KEYS.shiftTab);
    expect(store.view.focus).toBe('alerts');
    await app.press('4');
    expect(store.view.focus).toBe('movies');
    expect(plain(app.frame())).toContain('Blade Runner');
    expect(plain(app.frame())).not.toContain('keeper says');
  });

  it('arrows and j/k move the selection', async () => {
    const store = syntheticStore();
    const app = mount(store, recordingActions(store).actions);
    await app.press(KEYS.down);
    expect(store.selectedProcess()?.id).toBe('endpoint-2');
    await app.press('j');
    expect(store.selectedProcess()?.id).toBe('feeder-1');
    await app.press('k', KEYS.up, KEYS.up);
    expect(store.selectedProcess()?.id).toBe('endpoint-1');
    expect(lineWith(app.frame(), 'endpoint-1 ')).toContain('\u001b[7m'); // inverse
  });

  it('/ filters the log as you type; enter keeps it; esc clears it', async () => {
    const store = syntheticStore();
    const app = mount(store, recordingActions(store).actions);
    await app.press('/', ...'role:keeper');
    expect(plain(app.frame())).toContain('/role:keeper');
    await app.press(KEYS.enter);
    const f = plain(app.frame());
    expect(lineWith(f, '3 Logs')).toContain('20/60 lines · filter: role:keeper');
    expect(f).toContain('keeper says 59');
    expect(f).not.toContain('feeder says');
    await app.press(KEYS.esc);
    expect(plain(app.frame())).toContain('feeder says 57');
  });

  it('keys arriving in one read (paste, tmux send-keys) are taken one at a time', async () => {
    const store = syntheticStore();
    const app = mount(store, recordingActions(store).actions);
    await app.press('/', 'role:keeper\r');
    expect(store.view.mode.kind).toBe('normal');
    expect(store.logs.filter.role).toBe('keeper');
    expect(lineWith(plain(app.frame()), '3 Logs')).toContain('20/60 lines');
  });

  it('/ with a bad level shows the error and keeps the dialog open', async () => {
    const store = syntheticStore();
    const app = mount(store, recordingActions(store).actions);
    await app.press('/', ...'level:loud', KEYS.enter);
    expect(plain(app.frame())).toContain('unknown level "loud"');
    expect(store.view.mode.kind).toBe('filter');
    await app.press(KEYS.esc);
    expect(store.view.mode.kind).toBe('normal');
    expect(store.logs.filter.source).toBe('');
  });

  it('/ level:warn shows warnings and errors only; backspace edits', async () => {
    const store = syntheticStore();
    const app = mount(store, recordingActions(store).actions);
    await app.press('/', ...'level:warnx', KEYS.backspace, KEYS.enter);
    const f = plain(app.frame());
    expect(store.logs.filter.level).toBe('warn');
    expect(f).toContain('feeder says 57');
    expect(f).not.toContain('keeper says 58');
  });

  it('space pauses the log: new lines are counted, not shown, until resumed', async () => {
    const store = syntheticStore();
    const app = mount(store, recordingActions(store).actions);
    await app.press(' ');
    store.pushLog({
      role: 'feeder',
      id: 'feeder-1',
      host: 'devbox',
      level: 'info',
      line: '{"msg":"fresh line"}',
    });
    store.flush();
    await app.press();
    let f = plain(app.frame());
    expect(lineWith(f, '3 Logs')).toContain('PAUSED +1');
    expect(f).not.toContain('fresh line');
    await app.press(' ');
    f = plain(app.frame());
    expect(f).toContain('fresh line');
    expect(lineWith(f, '3 Logs')).toContain('following');
  });

  it('k on the log scrolls back and f follows again', async () => {
    const store = syntheticStore();
    const app = mount(store, recordingActions(store).actions);
    await app.press('3', 'k', 'k', 'k');
    let f = plain(app.frame());
    expect(lineWith(f, '3 Logs')).toContain('scrolled back');
    expect(f).not.toContain('keeper says 59');
    expect(f).toContain('says 56');
    await app.press('f');
    await app.press('f');
    f = plain(app.frame());
    expect(f).toContain('keeper says 59');
  });

  it('? opens help; any key closes it without acting', async () => {
    const store = syntheticStore();
    const rec = recordingActions(store);
    const app = mount(store, rec.actions);
    await app.press('?');
    const f = plain(app.frame());
    expect(f).toContain('Keys (any key closes)');
    expect(f).toContain('shed clients from the selected endpoint');
    await app.press('q');
    expect(store.view.mode.kind).toBe('normal');
    expect(rec.calls).toEqual([]);
    expect(plain(app.frame())).not.toContain('Keys (any key closes)');
  });

  it('q quits', async () => {
    const store = syntheticStore();
    const rec = recordingActions(store);
    const app = mount(store, rec.actions);
    await app.press('q');
    expect(rec.calls).toEqual(['quit']);
  });

  it('r asks before restarting; n cancels, y restarts the selected process', async () => {
    const store = syntheticStore();
    const rec = recordingActions(store);
    const app = mount(store, rec.actions);
    await app.press('r');
    expect(plain(app.frame())).toContain('Restart endpoint-1?');
    await app.press('n');
    expect(rec.calls).toEqual([]);
    expect(plain(app.frame())).toContain('cancelled');
    await app.press('r', 'y');
    await app.press();
    expect(rec.calls).toEqual(['restart endpoint-1']);
    expect(plain(app.frame())).toContain('restarted endpoint-1');
  });

  it('x asks before draining and stopping; esc cancels, enter confirms; X forces', async () => {
    const store = syntheticStore();
    const rec = recordingActions(store);
    const app = mount(store, rec.actions);
    await app.press('x');
    expect(plain(app.frame())).toMatch(/Stop endpoint-1\?/);
    expect(plain(app.frame())).toContain('Drain, then stop: its 41 clients move to other endpoints.');
    await app.press(KEYS.esc);
    expect(rec.calls).toEqual([]);
    await app.press('x', KEYS.enter);
    await app.press();
    expect(rec.calls).toEqual(['down endpoint-1']);
    await app.press('X');
    expect(plain(app.frame())).toContain('Stop endpoint-1 now, without a drain?');
    expect(plain(app.frame())).toContain('Stop now: its 41 clients are cut');
    await app.press('y');
    await app.press();
    expect(rec.calls).toEqual(['down endpoint-1', 'down endpoint-1 --force']);
  });

  it('the confirm prompts show the provider plan (the same as --dry-run), then do exactly that', async () => {
    const { MemoryProvider } = await import('../harness/fake-provider.ts');
    const { coreActions } = await import('../../god/tui/core-actions.ts');
    const { parseConfigText } = await import('../../god/core/config/load.ts');
    const { nullSink } = await import('../../god/core/events.ts');
    const config = parseConfigText('roles:\n  endpoint:\n    count: 1\n', 'god.config.yaml');
    const provider = new MemoryProvider({ running: { feeder: 1, endpoint: 1, keeper: 1 } });
    const store = syntheticStore();
    const actions = {
      ...coreActions({ provider, config, fleetRedis: undefined as never, events: nullSink }),
      quit: () => {},
    };
    const app = mount(store, actions);
    await app.press('x');
    await app.press();
    expect(plain(app.frame())).toContain('· stop process endpoint-1');
    expect(provider.calls).toContain('plan down endpoint-1');
    expect(provider.calls.some((c) => c.startsWith('down'))).toBe(false); // planning changed nothing
    await app.press('y');
    await app.press();
    // the only endpoint: the drain asks again, in the dashboard, before it goes
    expect(plain(app.frame())).toContain('endpoint-1 is the last endpoint(s): take down anyway?');
    expect(provider.calls.some((c) => c.startsWith('down'))).toBe(false);
    await app.press('y');
    await app.press();
    expect(provider.calls).toContain('down endpoint-1');
    await app.press('u');
    await app.press();
    expect(plain(app.frame())).toMatch(/· start process endpoint-\d/);
    await app.press(KEYS.esc);
    expect(provider.calls.filter((c) => c.startsWith('up'))).toEqual([]);
  });

  it('u asks, then starts one more process of the selected role', async () => {
    const store = syntheticStore();
    const rec = recordingActions(store);
    const app = mount(store, rec.actions);
    await app.press('u');
    expect(plain(app.frame())).toContain('Start one more endpoint?');
    await app.press('y');
    await app.press();
    expect(rec.calls).toEqual(['up endpoint']);
  });

  it('s sheds an edited number of clients from an endpoint, and refuses other roles', async () => {
    const store = syntheticStore();
    const rec = recordingActions(store);
    const app = mount(store, rec.actions);
    await app.press('s');
    let f = plain(app.frame());
    expect(f).toContain('Shed clients from endpoint-1?');
    expect(f).toMatch(/clients: 21/); // half of 41, rounded up
    await app.press(KEYS.backspace, KEYS.backspace, '5', 'y');
    await app.press();
    expect(rec.calls).toEqual(['shed endpoint-1 5']);
    // a feeder cannot shed
    await app.press('j', 'j', 's');
    f = plain(app.frame());
    expect(store.selectedProcess()?.role).toBe('feeder');
    expect(f).toContain('is a feeder: select an endpoint');
    expect(store.view.mode.kind).toBe('normal');
  });

  it('s refuses zero clients and stays open', async () => {
    const store = syntheticStore();
    const rec = recordingActions(store);
    const app = mount(store, rec.actions);
    await app.press('s', KEYS.backspace, KEYS.backspace, '0', KEYS.enter);
    expect(plain(app.frame())).toContain('clients must be a whole number from 1');
    expect(store.view.mode.kind).toBe('confirm');
    expect(rec.calls).toEqual([]);
  });

  it('d asks, then shows per-host deploy progress live until it ends', async () => {
    const store = syntheticStore();
    const rec = recordingActions(store);
    const app = mount(store, rec.actions);
    await app.press('d');
    expect(plain(app.frame())).toContain('Deploy the current build?');
    await app.press('y');
    await app.press();
    expect(rec.calls).toEqual(['deploy']);
    expect(plain(app.frame())).toMatch(/deploying · upload/);
    store.applyEvent({ type: 'host', step: 'upload', host: 'web-1', phase: 'progress', progress: 0.5 });
    store.applyEvent({ type: 'host', step: 'upload', host: 'web-2', phase: 'start' });
    store.flush();
    await app.press();
    let f = plain(app.frame());
    expect(lineWith(f, 'web-1')).toMatch(/web-1 +upload +█+░+ +50%/);
    expect(f).toContain('Deploy — 0/2 hosts');
    store.applyEvent({ type: 'host', step: 'health', host: 'web-1', phase: 'end', ok: true, ms: 900 });
    store.applyEvent({
      type: 'host',
      step: 'health',
      host: 'web-2',
      phase: 'end',
      ok: false,
      error: 'no heartbeat with 0.2.0',
    });
    store.flush();
    await app.press();
    f = plain(app.frame());
    expect(lineWith(f, 'web-1')).toMatch(/ok +900 ms/);
    expect(lineWith(f, 'web-2')).toMatch(/FAILED +no heartbeat with 0\.2\.0/);
    expect(lineWith(app.frame(), 'web-2')).toContain(RED);
    rec.finishDeploy?.({ ok: false, error: 'rolled back batch 1' });
    await app.press();
    f = plain(app.frame());
    expect(f).toContain('deploy FAILED after');
    expect(f).toContain('rolled back batch 1');
    await app.press(KEYS.esc);
    expect(store.view.mode.kind).toBe('normal');
  });

  it('an action that fails says so in the header', async () => {
    const store = syntheticStore();
    const rec = recordingActions(store);
    rec.actions.restart = async () => {
      throw Object.assign(new Error('no local process named endpoint-1'), { hint: 'god status lists them' });
    };
    const app = mount(store, rec.actions);
    await app.press('r', 'y');
    await app.press();
    const f = plain(app.frame());
    expect(f).toContain(
      'restarting endpoint-1 failed: no local process named endpoint-1 — god status lists them',
    );
    expect(lineWith(f, 'failed')).not.toContain('GOD'); // on the status line, not squeezed into the header
    expect(store.alerts.rows[0]?.message).toMatch(/^restarting endpoint-1 failed/);
  });

  it('an action the fleet does not offer is named, not attempted', async () => {
    const store = syntheticStore();
    const app = mount(store, { quit() {} });
    await app.press('d');
    expect(plain(app.frame())).toContain('deploy is not available with this fleet');
    expect(store.view.mode.kind).toBe('normal');
  });

  it('the clock in the header is the store clock', () => {
    const store = syntheticStore();
    const app = mount(store, recordingActions(store).actions);
    const d = new Date(NOW);
    const hh = String(d.getHours()).padStart(2, '0');
    expect(lines(plain(app.frame()))[0]).toContain(`${hh}:00:00`);
  });
});
