// The dashboard's state, without React: what the adapters feed in (logs, processes, machines, ranking, alerts,
// God events) and the view state the keys change. Listeners are told at most once per flush interval, so a
// flood of log lines costs one render per interval, not one per line.
import type { GodEvent } from '../core/events.ts';
import { PROCESS_STATES, type ProcessState } from '../core/process-states.ts';
import type { Machine } from '../core/providers/types.ts';
import { safeText } from '../core/logs.ts';
import type { RankedMovie } from '../../protocol/messages.ts';
import type { LogEntryFields } from '../../protocol/redis-contract.ts';
import { fromStreamEntry, type LogLine, searchText } from './log-line.ts';
import {
  isEmptyFilter,
  type LogFilter,
  matches as matchesFilter,
  NO_FILTER,
  parseFilter,
} from './log-filter.ts';
import { Ring } from './ring.ts';
import { SlotHistory } from './sparkline.ts';

export const PANES = ['fleet', 'processes', 'logs', 'movies', 'alerts'] as const;
export type PaneId = (typeof PANES)[number];
export const PANE_TITLES: Record<PaneId, string> = {
  fleet: 'Fleet',
  processes: 'Processes',
  logs: 'Logs',
  movies: 'Movies',
  alerts: 'Alerts',
};

export interface ProcessRow {
  role: string;
  id: string;
  host: string;
  /** god status's states (core/process-states.ts) */
  state: ProcessState;
  pid?: number;
  version?: string;
  /** ms since epoch */
  startedAt?: number;
  /** percent of one core */
  cpu?: number;
  /** bytes */
  rss?: number;
  clients?: number;
  tweetsPerS?: number;
  /** ms since epoch of the last heartbeat */
  beatAt?: number;
}

export interface AlertRow {
  key: string;
  at: number;
  /** silence, exception, process, god... */
  kind: string;
  level: 'warn' | 'error' | 'info';
  message: string;
  source?: string;
}

export interface HostProgress {
  host: string;
  step: string;
  phase: 'start' | 'progress' | 'end';
  progress?: number;
  detail?: string;
  ok?: boolean;
  error?: string;
  ms?: number;
}

export interface DeployState {
  running: boolean;
  startedAt: number;
  endedAt?: number;
  ok?: boolean;
  error?: string;
  /** the step God is in (upload, switch, restart, health...) */
  step?: string;
  hosts: HostProgress[];
}

export interface ConfirmRequest {
  title: string;
  body: string;
  /** a number the operator may edit before confirming (e.g. clients to shed) */
  count?: { label: string; value: number; min: number; max: number };
  run: (count?: number) => Promise<unknown> | unknown;
}

export type Mode =
  | { kind: 'normal' }
  | { kind: 'help' }
  | { kind: 'filter'; draft: string; previous: string; error?: string }
  | { kind: 'confirm'; req: ConfirmRequest; countText: string }
  | { kind: 'deploy' };

export interface Notice {
  text: string;
  level: 'info' | 'warn' | 'error';
  at: number;
}

export interface HeaderInfo {
  fleet?: string;
  redis?: string;
  note?: string;
}

export interface LogView {
  lines: LogLine[];
  /** lines held in the buffer */
  held: number;
  /** lines matching the filter (= held without a filter) */
  matched: number;
  following: boolean;
  paused: boolean;
  /** lines that arrived since the pause */
  newWhilePaused: number;
}

export interface StoreOptions {
  /** log lines kept (oldest dropped) */
  capacity?: number;
  /** how often listeners hear about new data; 50 ms keeps renders ≤ 20 per second */
  flushMs?: number;
  /** false: nothing is told until `flush()` is called (tests, benchmarks) */
  autoFlush?: boolean;
  /** sparkline slot length and count */
  slotMs?: number;
  slots?: number;
  now?: () => number;
}

const MAX_ALERTS = 200;

const matches = (f: LogFilter, line: LogLine) => matchesFilter(f, line, searchText);

export class DashboardStore {
  readonly logs: Ring<LogLine>;
  processes: ProcessRow[] = [];
  machines: Machine[] = [];
  ranking: RankedMovie[] = [];
  rankingAt?: number;
  /** previous rank (0-based) of each movie, for the ▲▼ marks */
  previousRank = new Map<number, number>();
  readonly history = new Map<number, SlotHistory>();
  alerts: AlertRow[] = [];
  deploy?: DeployState;
  header: HeaderInfo = {};
  notice?: Notice;
  /** counts lines ever received, for the benchmark and the header rate */
  received = 0;

  // ---- view state ----
  focus: PaneId = 'processes';
  mode: Mode = { kind: 'normal' };
  filter: LogFilter = NO_FILTER;
  following = true;
  /** seq of the bottom line shown when not following */
  anchorSeq = -1;
  /** seq of the newest line visible while paused */
  pausedAt?: number;
  readonly selected: Record<PaneId, number> = { fleet: 0, processes: 0, logs: 0, movies: 0, alerts: 0 };
  /** rows of the log pane at the last render, for page up/down */
  logRows = 20;

  /** bumps on every change listeners are told about */
  version = 0;
  private dirty = false;
  private readonly listeners = new Set<() => void>();
  private timer?: NodeJS.Timeout;
  private matchCache?: { version: number; filter: LogFilter; count: number };
  private alertSeq = 0;
  readonly slotMs: number;
  readonly slots: number;
  readonly now: () => number;

  constructor(o: StoreOptions = {}) {
    this.logs = new Ring<LogLine>(o.capacity ?? 5000);
    this.slotMs = o.slotMs ?? 10_000;
    this.slots = o.slots ?? 30;
    this.now = o.now ?? Date.now;
    if (o.autoFlush !== false) {
      this.timer = setInterval(() => this.flush(), o.flushMs ?? 50);
      this.timer.unref();
    }
  }

  // ---- subscription (useSyncExternalStore) ----
  subscribe = (fn: () => void): (() => void) => {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  };
  getVersion = (): number => this.version;

  /** tell listeners about data that arrived since the last flush */
  flush(): void {
    if (!this.dirty) return;
    this.dirty = false;
    this.version++;
    for (const fn of this.listeners) fn();
  }

  /** a view change: render now (Ink's own frame cap still applies) */
  private changed(): void {
    this.dirty = true;
    this.flush();
  }

  close(): void {
    clearInterval(this.timer);
    this.listeners.clear();
  }

  // ---- data in ----
  pushLog(fields: LogEntryFields, streamId?: string): void {
    this.logs.push(fromStreamEntry(fields, streamId));
    this.received++;
    this.dirty = true;
  }

  pushLine(line: LogLine): void {
    this.logs.push(line);
    this.received++;
    this.dirty = true;
  }

  setProcesses(rows: ProcessRow[]): void {
    // stable order (role, host, id) so the selection does not jump between polls
    this.processes = [...rows].sort(
      (a, b) =>
        a.role.localeCompare(b.role) ||
        a.host.localeCompare(b.host) ||
        a.id.localeCompare(b.id) ||
        PROCESS_STATES[a.state].order - PROCESS_STATES[b.state].order,
    );
    this.clampSelection('processes', this.processes.length);
    this.dirty = true;
  }

  setMachines(machines: Machine[]): void {
    this.machines = machines;
    this.clampSelection('fleet', machines.length);
    this.dirty = true;
  }

  setRanking(movies: RankedMovie[], at: number = this.now()): void {
    if (this.rankingAt !== undefined && at < this.rankingAt) return; // an older snapshot arrived late
    this.previousRank = new Map(this.ranking.map((m, i) => [m.id, i]));
    this.ranking = movies;
    this.rankingAt = at;
    for (const m of movies) {
      let h = this.history.get(m.id);
      if (!h) this.history.set(m.id, (h = new SlotHistory(this.slotMs, this.slots)));
      h.add(at, m.count);
    }
    // forget movies that left the ranking longer ago than the sparkline shows
    const oldest = Math.floor(at / this.slotMs) - this.slots;
    for (const [id, h] of this.history) if ((h.lastSlot() ?? 0) < oldest) this.history.delete(id);
    this.clampSelection('movies', movies.length);
    this.dirty = true;
  }

  pushAlert(a: Omit<AlertRow, 'key'> & { key?: string }): void {
    const key = a.key ?? `a${++this.alertSeq}`;
    if (this.alerts.some((x) => x.key === key)) return;
    // alert texts quote log lines (exception messages): terminal-safe like the logs pane
    this.alerts = [{ ...a, message: safeText(a.message), key }, ...this.alerts].slice(0, MAX_ALERTS);
    this.dirty = true;
  }

  /** clocks and ages on screen move even when no data does */
  tick(): void {
    this.dirty = true;
  }

  setHeader(h: HeaderInfo): void {
    this.header = { ...this.header, ...h };
    this.dirty = true;
  }

  setNotice(text: string, level: Notice['level'] = 'info'): void {
    this.notice = { text, level, at: this.now() };
    this.changed();
  }

  /** God's own events: deploy progress, process supervision, warnings. */
  applyEvent(ev: GodEvent & { at?: string }): void {
    const at = ev.at ? Date.parse(ev.at) : this.now();
    switch (ev.type) {
      case 'step': {
        const d = this.deploy;
        if (!d) break;
        if (ev.phase === 'start') d.step = ev.step;
        else if (ev.ok === false) d.error = ev.error ?? `${ev.step} failed`;
        break;
      }
      case 'host': {
        // outside a deploy (a restart one by one, say) a host event is just news
        if (!this.deploy?.running) {
          const what =
            ev.ok === false ? `failed: ${ev.error ?? ''}` : ev.phase === 'end' ? 'done' : (ev.detail ?? '…');
          this.notice = {
            text: `${ev.step} ${ev.host} ${what}`,
            level: ev.ok === false ? 'error' : 'info',
            at,
          };
          break;
        }
        const d = this.deploy;
        const row: HostProgress = {
          host: ev.host,
          step: ev.step,
          phase: ev.phase,
          progress: ev.progress,
          detail: ev.detail,
          ok: ev.ok,
          error: ev.error,
          ms: ev.ms,
        };
        const i = d.hosts.findIndex((h) => h.host === ev.host);
        // a host that failed keeps its error visible even if a later step (rollback) reports on it
        if (i < 0) d.hosts = [...d.hosts, row].sort((a, b) => a.host.localeCompare(b.host));
        else {
          const prev = d.hosts[i]!;
          d.hosts[i] = prev.ok === false && row.ok !== false ? { ...row, error: prev.error } : row;
          d.hosts = [...d.hosts];
        }
        break;
      }
      case 'process':
        if (ev.action === 'exited' || ev.action === 'restarting') {
          this.pushAlert({
            at,
            kind: 'process',
            level: ev.action === 'exited' && ev.code !== 0 ? 'error' : 'warn',
            message: `${ev.role} ${ev.id} ${ev.action}${ev.code != null ? ` (code ${ev.code})` : ''}${ev.detail ? `: ${ev.detail}` : ''}`,
            source: 'god',
          });
        }
        break;
      case 'machine':
        this.notice = { text: `machine ${ev.id} (${ev.role}) ${ev.action}`, level: 'info', at };
        break;
      case 'warn':
      case 'error':
        this.pushAlert({ at, kind: 'god', level: ev.type, message: ev.message, source: 'god' });
        this.notice = { text: ev.message + (ev.hint ? ` — ${ev.hint}` : ''), level: ev.type, at };
        break;
      case 'info':
        this.notice = { text: ev.message, level: 'info', at };
        break;
    }
    this.dirty = true;
  }

  // ---- deploy ----
  startDeploy(at: number = this.now()): DeployState {
    this.deploy = { running: true, startedAt: at, hosts: [] };
    this.dirty = true;
    return this.deploy;
  }

  endDeploy(ok: boolean, error?: string): void {
    if (!this.deploy) return;
    this.deploy = {
      ...this.deploy,
      running: false,
      endedAt: this.now(),
      ok,
      error: error ?? this.deploy.error,
    };
    this.changed();
  }

  // ---- view: panes and selection ----
  setFocus(p: PaneId): void {
    this.focus = p;
    this.changed();
  }

  cyclePane(delta: 1 | -1): void {
    const i = PANES.indexOf(this.focus);
    this.setFocus(PANES[(i + delta + PANES.length) % PANES.length]!);
  }

  private clampSelection(p: PaneId, n: number): void {
    this.selected[p] = Math.max(0, Math.min(this.selected[p], n - 1));
  }

  /** move the selection (or scroll the log) of the focused pane */
  move(delta: number): void {
    if (this.focus === 'logs') {
      this.scrollLogs(delta);
      return;
    }
    const n = this.rowCount(this.focus);
    this.selected[this.focus] = Math.max(0, Math.min(n - 1, this.selected[this.focus] + delta));
    this.changed();
  }

  rowCount(p: PaneId): number {
    switch (p) {
      case 'fleet':
        return this.machines.length;
      case 'processes':
        return this.processes.length;
      case 'movies':
        return this.ranking.length;
      case 'alerts':
        return this.alerts.length;
      case 'logs':
        return this.logs.length;
    }
  }

  selectedProcess(): ProcessRow | undefined {
    return this.processes[this.selected.processes];
  }

  // ---- view: modes ----
  setMode(mode: Mode): void {
    this.mode = mode;
    this.changed();
  }

  confirm(req: ConfirmRequest): void {
    this.setMode({ kind: 'confirm', req, countText: req.count ? String(req.count.value) : '' });
  }

  // ---- view: logs ----
  /** the newest seq the view may show (frozen while paused) */
  private limitSeq(): number {
    const last = this.logs.nextSeq - 1;
    return this.pausedAt === undefined ? last : Math.min(this.pausedAt, last);
  }

  setFilter(source: string): string | undefined {
    const { filter, error } = parseFilter(source);
    if (error) return error;
    this.filter = filter;
    this.matchCache = undefined;
    this.changed();
    return undefined;
  }

  toggleFollow(): void {
    this.following = !this.following;
    if (!this.following) this.anchorSeq = this.limitSeq();
    this.changed();
  }

  togglePause(): void {
    this.pausedAt = this.pausedAt === undefined ? this.logs.nextSeq - 1 : undefined;
    this.changed();
  }

  /** scroll by matching lines; negative goes back in time. Scrolling down to the end follows again. */
  scrollLogs(delta: number): void {
    const limit = this.limitSeq();
    let seq = this.following ? limit : Math.min(this.anchorSeq, limit);
    // start from the bottom line actually shown (the newest matching one)
    this.logs.walkBack(seq, (line, s) => {
      if (!matches(this.filter, line)) return true;
      seq = s;
      return false;
    });
    if (delta < 0) {
      let left = -delta;
      let last = seq;
      this.logs.walkBack(seq - 1, (line, s) => {
        if (!matches(this.filter, line)) return true;
        last = s;
        return --left > 0;
      });
      // never scroll the top line out of the buffer: keep at least a screenful above the anchor
      seq = Math.max(last, this.topAnchor());
      this.following = false;
    } else {
      let left = delta;
      for (let s = seq + 1; s <= limit && left > 0; s++) {
        const line = this.logs.at(s);
        if (line && matches(this.filter, line)) {
          seq = s;
          left--;
        }
      }
      if (left > 0 || seq >= limit) this.following = true;
    }
    this.anchorSeq = seq;
    this.changed();
  }

  /** the lowest anchor that still fills the pane */
  private topAnchor(): number {
    let n = 0;
    let seq = this.logs.firstSeq;
    for (let s = this.logs.firstSeq; s <= this.limitSeq(); s++) {
      const line = this.logs.at(s);
      if (line && matches(this.filter, line)) {
        seq = s;
        if (++n >= this.logRows) break;
      }
    }
    return seq;
  }

  followNow(): void {
    this.following = true;
    this.changed();
  }

  private matchedCount(): number {
    if (isEmptyFilter(this.filter)) return this.logs.length;
    const c = this.matchCache;
    if (c && c.version === this.version && c.filter === this.filter) return c.count;
    let count = 0;
    this.logs.walkBack(this.logs.nextSeq - 1, (line) => {
      if (matches(this.filter, line)) count++;
      return true;
    });
    this.matchCache = { version: this.version, filter: this.filter, count };
    return count;
  }

  /** the `rows` lines the log pane shows, oldest first */
  logView(rows: number): LogView {
    this.logRows = rows;
    const limit = this.limitSeq();
    const bottom = this.following ? limit : Math.min(this.anchorSeq, limit);
    const lines: LogLine[] = [];
    if (rows > 0 && !this.following && bottom < this.logs.firstSeq) {
      // the anchor fell out of the buffer: show the oldest lines still held
      for (let s = this.logs.firstSeq; s <= limit && lines.length < rows; s++) {
        const line = this.logs.at(s)!;
        if (matches(this.filter, line)) lines.push(line);
      }
    } else if (rows > 0) {
      this.logs.walkBack(bottom, (line) => {
        if (matches(this.filter, line)) lines.push(line);
        return lines.length < rows;
      });
      lines.reverse();
    }
    return {
      lines,
      held: this.logs.length,
      matched: this.matchedCount(),
      following: this.following,
      paused: this.pausedAt !== undefined,
      newWhilePaused: this.pausedAt === undefined ? 0 : this.logs.nextSeq - 1 - this.pausedAt,
    };
  }

  // ---- view: movies ----
  sparkFor(movieId: number, n = this.slots): number[] {
    return this.history.get(movieId)?.rates(this.rankingAt ?? this.now(), n) ?? [];
  }
}
