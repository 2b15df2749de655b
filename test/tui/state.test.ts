// The dashboard store's pieces on their own (god/tui/state/): each with one job, told apart by how they report
// changes (data waits for the flush, a view change renders now), and each pane drawn from only what it shows.
import fs from 'node:fs';
import { render } from 'ink-testing-library';
import { createElement } from 'react';
import { describe, expect, it } from 'vitest';
import { StampedEventSchema } from '../../god/core/events.ts';
import { AlertsPane } from '../../god/tui/components/AlertsPane.tsx';
import { ProcessesPane } from '../../god/tui/components/ProcessesPane.tsx';
import { AlertList, MAX_ALERTS } from '../../god/tui/state/alerts.ts';
import type { Changes } from '../../god/tui/state/changes.ts';
import { DeployProgress } from '../../god/tui/state/deploy.ts';
import { FleetData } from '../../god/tui/state/fleet.ts';
import { LogViewport } from '../../god/tui/state/log-viewport.ts';
import { ViewState } from '../../god/tui/state/view.ts';
import { DashboardStore } from '../../god/tui/store.ts';

function counting(): Changes & { data_: number; view_: number } {
  const c = {
    data_: 0,
    view_: 0,
    data() {
      c.data_++;
    },
    view() {
      c.view_++;
    },
  };
  return c;
}

describe('the store pieces', () => {
  it('log lines are data (wait for the flush); filter, follow, pause and scroll are view changes (render now)', () => {
    const c = counting();
    const logs = new LogViewport(c, 10);
    for (let i = 0; i < 3; i++)
      logs.pushEntry({ role: 'feeder', id: 'f1', host: 'h', level: 'info', line: `{"msg":"${i}"}` });
    expect([c.data_, c.view_]).toEqual([3, 0]);
    logs.setFilter('role:feeder');
    logs.togglePause();
    logs.toggleFollow();
    logs.scroll(-1);
    expect(c.view_).toBe(4);
    expect(logs.setFilter('level:loud')).toMatch(/unknown level/);
    expect(c.view_).toBe(4); // a refused filter changes nothing
  });

  it('the matched count follows new lines under a filter', () => {
    const logs = new LogViewport(counting(), 10);
    const push = (role: string) =>
      logs.pushEntry({ role, id: `${role}-1`, host: 'h', level: 'info', line: '{}' });
    push('feeder');
    logs.setFilter('role:feeder');
    expect(logs.view(5).matched).toBe(1);
    push('feeder');
    push('keeper');
    expect(logs.view(5).matched).toBe(2);
  });

  it('fleet data sorts processes by role, host, id, then worst state first (the state table)', () => {
    const fleet = new FleetData(counting());
    fleet.setProcesses([
      { role: 'endpoint', id: 'e1', host: 'a', state: 'up' },
      { role: 'endpoint', id: 'e1', host: 'a', state: 'missing' },
      { role: 'endpoint', id: 'e1', host: 'a', state: 'unexpected' },
      { role: 'endpoint', id: 'e1', host: 'a', state: 'stale' },
    ]);
    expect(fleet.processes.map((p) => p.state)).toEqual(['missing', 'stale', 'unexpected', 'up']);
  });

  it('a notice from a feed waits for the flush; one from a key renders now', () => {
    const c = counting();
    const view = new ViewState(c, () => 5);
    view.note({ text: 'from a feed', level: 'info', at: 1 });
    expect([c.data_, c.view_]).toEqual([1, 0]);
    view.setNotice('from a key', 'warn');
    expect(c.view_).toBe(1);
    expect(view.notice).toEqual({ text: 'from a key', level: 'warn', at: 5 });
  });

  it('selection stays within the rows a pane has', () => {
    const view = new ViewState(counting(), () => 0);
    view.moveSelection('alerts', 10, 3);
    expect(view.selected.alerts).toBe(2);
    view.clamp('alerts', 1);
    expect(view.selected.alerts).toBe(0);
    view.moveSelection('alerts', -4, 0);
    expect(view.selected.alerts).toBe(0);
  });

  it('alerts: each key once, newest first, at most MAX_ALERTS', () => {
    const alerts = new AlertList(counting());
    for (let i = 0; i < MAX_ALERTS + 5; i++)
      alerts.push({ at: i, kind: 'god', level: 'warn', message: `m${i}` });
    alerts.push({ key: 'k', at: 0, kind: 'silence', level: 'error', message: 'x' });
    alerts.push({ key: 'k', at: 0, kind: 'silence', level: 'error', message: 'x again' });
    expect(alerts.rows).toHaveLength(MAX_ALERTS);
    expect(alerts.rows[0]).toMatchObject({ key: 'k', message: 'x' });
  });

  it('deploy progress ignores host events until a deploy starts', () => {
    const deploy = new DeployProgress(counting(), () => 100);
    deploy.host({ type: 'host', step: 'upload', host: 'h1', phase: 'start' });
    expect(deploy.state).toBeUndefined();
    deploy.start();
    deploy.host({ type: 'host', step: 'upload', host: 'h1', phase: 'start' });
    expect(deploy.state?.hosts.map((h) => h.host)).toEqual(['h1']);
  });

  it('takes every documented event (god/EVENTS.md) without a throw', () => {
    const doc = fs.readFileSync(new URL('../../god/EVENTS.md', import.meta.url), 'utf8');
    const events = [...doc.matchAll(/^(\{.*\})$/gm)]
      .map((m) => StampedEventSchema.safeParse(JSON.parse(m[1]!)))
      .flatMap((r) => (r.success ? [r.data] : []));
    expect(events.length).toBeGreaterThan(10);
    const store = new DashboardStore({ autoFlush: false });
    store.deploy.start();
    for (const ev of events) store.applyEvent(ev);
    expect(store.deploy.state?.hosts.map((h) => h.host)).toEqual([
      'edge-1',
      'edge-2',
      'endpoint-1',
      'i-0abc',
    ]); // deploy, drain and ec2 ready host events
    expect(store.alerts.rows.map((a) => a.kind)).toContain('process');
    store.close();
  });
});

describe('panes draw from what they show', () => {
  it('the Processes pane needs its rows, the selection and the clock, no store', () => {
    const r = render(
      createElement(ProcessesPane, {
        rows: [{ role: 'keeper', id: 'keeper-1', host: 'h', state: 'missing' }],
        selected: 0,
        now: 0,
        width: 80,
        height: 5,
        focused: false,
      }),
    );
    expect(r.lastFrame()).toMatch(/keeper-1 .*missing/);
    expect(r.lastFrame()).toContain('1 processes · 1 down');
    r.unmount();
  });

  it('the Alerts pane needs its rows and the selection', () => {
    const r = render(
      createElement(AlertsPane, {
        alerts: [{ key: 'a', at: 0, kind: 'silence', level: 'error', message: 'quiet feeder' }],
        selected: 0,
        width: 60,
        height: 4,
        focused: true,
      }),
    );
    expect(r.lastFrame()).toMatch(/silence +quiet feeder/);
    r.unmount();
  });
});
