// The dashboard store without React: bounded log buffer, batched notification, filter, pause, scroll, follow,
// sparkline history, deploy progress from GodEvents.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseFilter } from '../../god/tui/log-filter.ts';
import { display } from '../../god/tui/log-line.ts';
import { Ring } from '../../god/tui/ring.ts';
import { sparkline } from '../../god/tui/sparkline.ts';
import { DashboardStore } from '../../god/tui/store.ts';

const stores: DashboardStore[] = [];
function makeStore(o: ConstructorParameters<typeof DashboardStore>[0] = {}) {
  const s = new DashboardStore({ autoFlush: false, ...o });
  stores.push(s);
  return s;
}
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
});

function log(s: DashboardStore, i: number, o: { role?: string; level?: string; msg?: string } = {}) {
  s.pushLog({
    role: o.role ?? 'feeder',
    id: `${o.role ?? 'feeder'}-1`,
    host: 'h1',
    level: o.level ?? 'info',
    line: JSON.stringify({ level: 30, time: 1_700_000_000_000 + i, msg: o.msg ?? `line ${i}` }),
  });
}
const texts = (s: DashboardStore, rows: number) => s.logs.view(rows).lines.map((l) => display(l).text);

describe('Ring', () => {
  it('keeps the newest items and numbers them', () => {
    const r = new Ring<number>(3);
    for (let i = 0; i < 5; i++) expect(r.push(i * 10)).toBe(i);
    expect(r.length).toBe(3);
    expect(r.firstSeq).toBe(2);
    expect([r.at(1), r.at(2), r.at(4), r.at(5)]).toEqual([undefined, 20, 40, undefined]);
    const seen: number[] = [];
    r.walkBack(99, (v) => {
      seen.push(v);
      return true;
    });
    expect(seen).toEqual([40, 30, 20]);
  });
  it('refuses a useless capacity', () => {
    expect(() => new Ring(0)).toThrow(/capacity/);
  });
});

describe('DashboardStore logs', () => {
  it('holds at most its capacity (5,000 by default), dropping the oldest', () => {
    const s = makeStore();
    for (let i = 0; i < 12_000; i++) log(s, i);
    expect(s.logs.lines.length).toBe(5000);
    expect(s.logs.received).toBe(12_000);
    expect(texts(s, 2)).toEqual(['line 11998', 'line 11999']);
    expect(display(s.logs.lines.at(s.logs.lines.firstSeq)!).text).toBe('line 7000');
  });

  it('tells listeners once per flush however many lines arrived', () => {
    const s = makeStore();
    let calls = 0;
    s.subscribe(() => calls++);
    for (let i = 0; i < 1000; i++) log(s, i);
    expect(calls).toBe(0);
    s.flush();
    s.flush(); // nothing new: no call
    expect(calls).toBe(1);
    log(s, 1000);
    s.flush();
    expect(calls).toBe(2);
  });

  it('flushes on its own timer when autoFlush is on', () => {
    // fake timers: the count of flushes follows the store's timer, not the machine's speed
    vi.useFakeTimers();
    try {
      const s = makeStore({ autoFlush: true, flushMs: 10 });
      let calls = 0;
      s.subscribe(() => calls++);
      for (let i = 0; i < 500; i++) log(s, i);
      expect(calls).toBe(0);
      vi.advanceTimersByTime(60);
      // 500 lines, six timer periods: one call (nothing new after the first flush)
      expect(calls).toBe(1);
      log(s, 500);
      vi.advanceTimersByTime(10);
      expect(calls).toBe(2);
    } finally {
      vi.useRealTimers();
    }
  });

  it('filters by role, level (and above), host and words', () => {
    const s = makeStore();
    log(s, 1, { role: 'feeder', msg: 'matched The Matrix' });
    log(s, 2, { role: 'endpoint', level: 'warn', msg: 'slow consumer' });
    log(s, 3, { role: 'endpoint', level: 'error', msg: 'boom' });
    log(s, 4, { role: 'keeper', msg: 'archived 10 lines' });
    expect(s.logs.setFilter('role:endpoint')).toBeUndefined();
    expect(texts(s, 10)).toEqual(['slow consumer', 'boom']);
    s.logs.setFilter('level:error');
    expect(texts(s, 10)).toEqual(['boom']);
    s.logs.setFilter('matrix');
    expect(texts(s, 10)).toEqual(['matched The Matrix']);
    s.logs.setFilter('role:endpoint SLOW');
    expect(s.logs.view(10).matched).toBe(1);
    s.logs.setFilter('host:nope');
    expect(texts(s, 10)).toEqual([]);
    expect(s.logs.setFilter('level:loud')).toMatch(/unknown level "loud"/);
    expect(s.logs.filter.source).toBe('host:nope'); // a bad filter does not replace the good one
    s.logs.setFilter('');
    expect(s.logs.view(10).matched).toBe(4);
  });

  it('parses filters with short keys', () => {
    expect(parseFilter('r:feeder l:warn h:ip-10 Foo').filter).toMatchObject({
      role: 'feeder',
      level: 'warn',
      host: 'ip-10',
      words: ['foo'],
    });
  });

  it('pause freezes the view while lines keep arriving; resume shows them', () => {
    const s = makeStore();
    for (let i = 0; i < 10; i++) log(s, i);
    s.logs.togglePause();
    for (let i = 10; i < 15; i++) log(s, i);
    const v = s.logs.view(3);
    expect(v.paused).toBe(true);
    expect(v.newWhilePaused).toBe(5);
    expect(v.lines.map((l) => display(l).text)).toEqual(['line 7', 'line 8', 'line 9']);
    s.logs.togglePause();
    expect(texts(s, 2)).toEqual(['line 13', 'line 14']);
  });

  it('scrolling back stops following and keeps the view still; scrolling to the end follows again', () => {
    const s = makeStore();
    for (let i = 0; i < 20; i++) log(s, i);
    s.logs.view(3);
    s.logs.scroll(-5);
    expect(s.logs.following).toBe(false);
    expect(texts(s, 3)).toEqual(['line 12', 'line 13', 'line 14']);
    for (let i = 20; i < 25; i++) log(s, i);
    expect(texts(s, 3)).toEqual(['line 12', 'line 13', 'line 14']);
    s.logs.scroll(100);
    expect(s.logs.following).toBe(true);
    expect(texts(s, 3)).toEqual(['line 22', 'line 23', 'line 24']);
  });

  it('scrolls by matching lines only and never past the oldest screenful', () => {
    const s = makeStore();
    for (let i = 0; i < 20; i++) log(s, i, { role: i % 2 ? 'endpoint' : 'feeder' });
    s.logs.setFilter('role:feeder');
    s.logs.view(2);
    s.logs.scroll(-1);
    expect(texts(s, 2)).toEqual(['line 14', 'line 16']);
    s.logs.scroll(-1000);
    expect(texts(s, 2)).toEqual(['line 0', 'line 2']);
  });

  it('f toggles follow: off pins the current bottom line', () => {
    const s = makeStore();
    for (let i = 0; i < 5; i++) log(s, i);
    s.logs.toggleFollow();
    log(s, 5);
    expect(texts(s, 1)).toEqual(['line 4']);
    s.logs.toggleFollow();
    expect(texts(s, 1)).toEqual(['line 5']);
  });

  it('shows a scrolled-back view that fell out of the buffer from the oldest line held', () => {
    const s = makeStore({ capacity: 10 });
    for (let i = 0; i < 10; i++) log(s, i);
    s.logs.view(2);
    s.logs.scroll(-3);
    for (let i = 10; i < 30; i++) log(s, i);
    expect(texts(s, 2)).toEqual(['line 20', 'line 21']);
  });

  it('displays message and context, and raw text that is not JSON', () => {
    const s = makeStore();
    s.pushLog({
      role: 'endpoint',
      id: 'e1',
      host: 'h',
      level: 'error',
      line: JSON.stringify({
        level: 50,
        time: 5,
        msg: 'client failed',
        client: 'c 1',
        err: { message: 'EPIPE' },
      }),
    });
    s.pushLog({ role: 'keeper', id: 'k1', host: 'h', level: 'info', line: 'plain\ttext\nline' });
    const [a, b] = s.logs.view(2).lines;
    expect(display(a!)).toEqual({ time: 5, text: 'client failed client="c 1" err=EPIPE' });
    expect(display(b!).text).toBe('plain text line');
  });
});

describe('DashboardStore ranking, processes, events', () => {
  it('keeps per-movie history as growth per slot, and the previous rank', () => {
    const s = makeStore({ slotMs: 1000, slots: 5 });
    const t0 = 100_000;
    s.setRanking(
      [
        { id: 1, title: 'A', count: 10 },
        { id: 2, title: 'B', count: 5 },
      ],
      t0,
    );
    s.setRanking(
      [
        { id: 2, title: 'B', count: 25 },
        { id: 1, title: 'A', count: 12 },
      ],
      t0 + 1000,
    );
    s.setRanking(
      [
        { id: 2, title: 'B', count: 30 },
        { id: 1, title: 'A', count: 12 },
      ],
      t0 + 3000,
    );
    expect(s.movies.sparkFor(2, 3)).toEqual([20, 0, 5]);
    expect(s.movies.sparkFor(1, 3)).toEqual([2, 0, 0]);
    expect(s.movies.previousRank.get(2)).toBe(0);
    // a late, older snapshot is ignored
    s.setRanking([{ id: 1, title: 'A', count: 99 }], t0);
    expect(s.movies.ranking[0]!.id).toBe(2);
    expect(sparkline([0, 5, 10])).toBe('▁▅█');
    expect(sparkline([0, 0])).toBe('▁▁');
  });

  it('forgets movies that left the ranking longer ago than the sparkline shows', () => {
    const s = makeStore({ slotMs: 1000, slots: 3 });
    s.setRanking([{ id: 1, title: 'A', count: 1 }], 0);
    s.setRanking([{ id: 2, title: 'B', count: 1 }], 10_000);
    expect(s.movies.history.has(1)).toBe(false);
    expect(s.movies.history.has(2)).toBe(true);
  });

  it('sorts processes stably and keeps the selection in range', () => {
    const s = makeStore();
    s.setProcesses([
      { role: 'keeper', id: 'keeper-1', host: 'a', state: 'up' },
      { role: 'endpoint', id: 'endpoint-2', host: 'a', state: 'missing' },
      { role: 'endpoint', id: 'endpoint-1', host: 'a', state: 'up' },
    ]);
    expect(s.fleet.processes.map((p) => p.id)).toEqual(['endpoint-1', 'endpoint-2', 'keeper-1']);
    s.view.setFocus('processes');
    s.move(5);
    expect(s.selectedProcess()?.id).toBe('keeper-1');
    s.setProcesses([{ role: 'feeder', id: 'feeder-1', host: 'a', state: 'up' }]);
    expect(s.selectedProcess()?.id).toBe('feeder-1');
  });

  it('turns host events into per-host deploy progress, keeping a failure visible', () => {
    const s = makeStore();
    s.deploy.start();
    s.applyEvent({ type: 'step', step: 'upload', phase: 'start' });
    s.applyEvent({ type: 'host', step: 'upload', host: 'h2', phase: 'progress', progress: 0.5 });
    s.applyEvent({ type: 'host', step: 'upload', host: 'h1', phase: 'end', ok: true, ms: 120 });
    s.applyEvent({
      type: 'host',
      step: 'health',
      host: 'h2',
      phase: 'end',
      ok: false,
      error: 'no heartbeat',
    });
    s.applyEvent({ type: 'host', step: 'rollback', host: 'h2', phase: 'end', ok: true });
    expect(s.deploy.state?.step).toBe('upload');
    expect(s.deploy.state?.hosts.map((h) => [h.host, h.step, h.ok, h.error])).toEqual([
      ['h1', 'upload', true, undefined],
      ['h2', 'rollback', true, 'no heartbeat'],
    ]);
    s.deploy.end(false, 'batch 1 failed its health check');
    expect(s.deploy.state).toMatchObject({
      running: false,
      ok: false,
      error: 'batch 1 failed its health check',
    });
  });

  it('turns crashes and God warnings into alerts, info into the notice', () => {
    const s = makeStore();
    s.applyEvent({ type: 'process', action: 'exited', role: 'feeder', id: 'feeder-1', code: 1 });
    s.applyEvent({ type: 'process', action: 'started', role: 'feeder', id: 'feeder-1' });
    s.applyEvent({ type: 'warn', message: 'redis slow', hint: 'check it' });
    s.applyEvent({ type: 'info', message: 'all good' });
    expect(s.alerts.rows.map((a) => [a.kind, a.level, a.message])).toEqual([
      ['god', 'warn', 'redis slow'],
      ['process', 'error', 'feeder feeder-1 exited (code 1)'],
    ]);
    expect(s.view.notice?.text).toBe('all good');
  });
});
