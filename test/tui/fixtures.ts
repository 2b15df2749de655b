// A dashboard store filled with synthetic data (no Redis), and helpers to drive the Ink app like a terminal.
import { render } from 'ink-testing-library';
import { createElement } from 'react';
import type { DashboardActions } from '../../god/tui/actions.ts';
import { App, type Size } from '../../god/tui/components/App.tsx';
import { DashboardStore, type ProcessRow } from '../../god/tui/store.ts';

export const NOW = Date.parse('2026-11-22T12:00:00Z');

export function syntheticStore(): DashboardStore {
  const store = new DashboardStore({ autoFlush: false, now: () => NOW, slotMs: 10_000, slots: 12 });
  store.setHeader({ fleet: 'local', redis: 'redis://127.0.0.1:6390' });
  const proc = (p: Partial<ProcessRow> & Pick<ProcessRow, 'role' | 'id'>): ProcessRow => ({
    host: 'devbox',
    state: 'up',
    pid: 4000 + p.id.length,
    version: '0.1.0',
    startedAt: NOW - 125_000,
    cpu: 3.2,
    rss: 71_000_000,
    beatAt: NOW - 1_000,
    ...p,
  });
  store.setProcesses([
    proc({ role: 'feeder', id: 'feeder-1', tweetsPerS: 212.5, cpu: 31.4 }),
    proc({ role: 'endpoint', id: 'endpoint-1', clients: 41 }),
    proc({ role: 'endpoint', id: 'endpoint-2', clients: 0, state: 'stale', beatAt: NOW - 9_000 }),
    { role: 'keeper', id: 'keeper-1', host: 'devbox', state: 'missing' },
  ]);
  store.setMachines([
    {
      provider: 'local',
      id: 'devbox',
      name: 'devbox',
      address: '127.0.0.1',
      state: 'running',
      roles: ['feeder', 'endpoint', 'keeper'],
    },
  ]);
  const roles = ['feeder', 'endpoint', 'keeper'];
  for (let i = 0; i < 60; i++) {
    const role = roles[i % 3]!;
    const level = i % 10 === 9 ? 'warn' : i === 57 ? 'error' : 'info';
    store.pushLog({
      role,
      id: `${role}-1`,
      host: 'devbox',
      level,
      line: JSON.stringify({ level: 30, time: NOW - (60 - i) * 100, msg: `${role} says ${i}` }),
    });
  }
  store.setRanking(
    [
      { id: 603, title: 'The Matrix', count: 100 },
      { id: 78, title: 'Blade Runner', count: 80 },
      { id: 348, title: 'Alien', count: 10 },
    ],
    NOW - 30_000,
  );
  store.setRanking(
    [
      { id: 78, title: 'Blade Runner', count: 140 },
      { id: 603, title: 'The Matrix', count: 120 },
      { id: 348, title: 'Alien', count: 12 },
    ],
    NOW,
  );
  store.pushAlert({
    at: NOW - 5000,
    kind: 'silence',
    level: 'error',
    message: 'no log line from feeder-1 for 60s',
  });
  store.flush();
  return store;
}

export interface Recorded {
  calls: string[];
  actions: DashboardActions;
  /** resolves a pending deploy */
  finishDeploy?: (r: { ok: boolean; error?: string }) => void;
}

export function recordingActions(store: DashboardStore): Recorded {
  const rec: Recorded = { calls: [], actions: { quit: () => rec.calls.push('quit') } };
  rec.actions = {
    quit: () => rec.calls.push('quit'),
    up: async (role) => rec.calls.push(`up ${role}`),
    down: async (row, how) => rec.calls.push(`down ${row.id}${how.force ? ' --force' : ''}`),
    restart: async (row) => rec.calls.push(`restart ${row.id}`),
    shed: async (row, n) => rec.calls.push(`shed ${row.id} ${n}`),
    deploy: () => {
      rec.calls.push('deploy');
      return new Promise((resolve) => {
        rec.finishDeploy = resolve;
        store.applyEvent({ type: 'step', step: 'upload', phase: 'start' });
      });
    },
  };
  return rec;
}

export const KEYS = {
  tab: '\t',
  shiftTab: '\u001b[Z',
  esc: '\u001b',
  enter: '\r',
  up: '\u001b[A',
  down: '\u001b[B',
  backspace: '\u007f',
};

export const tick = (ms = 15) => new Promise((r) => setTimeout(r, ms));

export function mount(
  store: DashboardStore,
  actions: DashboardActions,
  size: Size = { columns: 120, rows: 40 },
) {
  const r = render(createElement(App, { store, actions, size }));
  return {
    ...r,
    frame: () => r.lastFrame() ?? '',
    /** type keys one at a time, as a person would */
    async press(...keys: string[]) {
      for (const k of keys) {
        r.stdin.write(k);
        // a lone ESC is only known to be ESC after a short wait
        await tick(k === KEYS.esc ? 80 : 15);
      }
      store.flush();
      await tick();
    },
  };
}
