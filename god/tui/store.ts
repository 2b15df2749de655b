// The dashboard's state, without React: small pieces with one job each (state/), and the batching that tells
// listeners at most once per flush interval, so a flood of log lines costs one render per interval, not one
// per line. The feeds put data in through the methods here (they keep each pane's selection in range); the
// panes read the piece they show.
import type { GodEvent } from '../core/events.ts';
import type { Machine } from '../core/providers/types.ts';
import type { RankedMovie } from '../../protocol/messages.ts';
import type { LogEntryFields } from '../../protocol/redis-contract.ts';
import type { LogLine } from './log-line.ts';
import { type AlertRow, AlertList } from './state/alerts.ts';
import { applyEvent } from './state/apply-event.ts';
import type { Changes } from './state/changes.ts';
import { DeployProgress } from './state/deploy.ts';
import { FleetData, type HeaderInfo, type ProcessRow } from './state/fleet.ts';
import { LogViewport } from './state/log-viewport.ts';
import { MovieRanking } from './state/movies.ts';
import { type PaneId, ViewState } from './state/view.ts';
import { WatchFeed } from './state/watch.ts';

export type { AlertRow } from './state/alerts.ts';
export type { DeployState, HostProgress } from './state/deploy.ts';
export type { HeaderInfo, ProcessRow } from './state/fleet.ts';
export type { LogView } from './state/log-viewport.ts';
export {
  type ConfirmRequest,
  type Mode,
  type Notice,
  PANE_TITLES,
  PANES,
  type PaneId,
} from './state/view.ts';

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

export class DashboardStore {
  readonly fleet: FleetData;
  readonly logs: LogViewport;
  readonly movies: MovieRanking;
  readonly alerts: AlertList;
  readonly deploy: DeployProgress;
  readonly view: ViewState;
  readonly watch: WatchFeed;
  readonly now: () => number;

  /** bumps on every change listeners are told about */
  version = 0;
  private dirty = false;
  private readonly listeners = new Set<() => void>();
  private timer?: NodeJS.Timeout;

  constructor(o: StoreOptions = {}) {
    this.now = o.now ?? Date.now;
    const changes: Changes = {
      data: () => {
        this.dirty = true;
      },
      // a view change: render now (Ink's own frame cap still applies)
      view: () => {
        this.dirty = true;
        this.flush();
      },
    };
    this.fleet = new FleetData(changes);
    this.logs = new LogViewport(changes, o.capacity ?? 5000);
    this.movies = new MovieRanking(changes, o.slotMs ?? 10_000, o.slots ?? 30, this.now);
    this.alerts = new AlertList(changes);
    this.deploy = new DeployProgress(changes, this.now);
    this.view = new ViewState(changes, this.now);
    this.watch = new WatchFeed(changes);
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

  close(): void {
    this.watch.close();
    clearInterval(this.timer);
    this.listeners.clear();
  }

  /** clocks and ages on screen move even when no data does */
  tick(): void {
    this.dirty = true;
  }

  // ---- data in (the feeds) ----
  pushLog(fields: LogEntryFields, streamId?: string): void {
    this.logs.pushEntry(fields, streamId);
  }

  pushLine(line: LogLine): void {
    this.logs.push(line);
  }

  setProcesses(rows: readonly ProcessRow[]): void {
    this.fleet.setProcesses(rows);
    this.view.clamp('processes', this.fleet.processes.length);
  }

  setMachines(machines: readonly Machine[]): void {
    this.fleet.setMachines(machines);
    this.view.clamp('fleet', machines.length);
  }

  setHeader(h: HeaderInfo): void {
    this.fleet.setHeader(h);
  }

  setRanking(movies: readonly RankedMovie[], at: number = this.now()): void {
    this.movies.set(movies, at);
    this.view.clamp('movies', this.movies.ranking.length);
  }

  pushAlert(a: Omit<AlertRow, 'key'> & { key?: string }): void {
    this.alerts.push(a);
  }

  /** God's own events: deploy progress, process supervision, warnings. */
  applyEvent(ev: GodEvent & { at?: string }): void {
    applyEvent(this, ev, this.now());
  }

  // ---- selection across panes ----
  rowCount(p: PaneId): number {
    switch (p) {
      case 'fleet':
        return this.fleet.machines.length;
      case 'processes':
        return this.fleet.processes.length;
      case 'movies':
        return this.movies.ranking.length;
      case 'alerts':
        return this.alerts.rows.length;
      case 'logs':
        return this.logs.lines.length;
    }
  }

  /** move the selection (or scroll the log) of the focused pane */
  move(delta: number): void {
    const p = this.view.focus;
    if (p === 'logs') this.logs.scroll(delta);
    else this.view.moveSelection(p, delta, this.rowCount(p));
  }

  selectedProcess(): ProcessRow | undefined {
    return this.fleet.processes[this.view.selected.processes];
  }

  selectedMovie(): RankedMovie | undefined {
    return this.movies.ranking[this.view.selected.movies];
  }

  /** The newest `n` log lines of one process that the log view holds, oldest first. */
  processLines(role: string, id: string, n: number): LogLine[] {
    const out: LogLine[] = [];
    this.logs.lines.walkBack(this.logs.lines.nextSeq - 1, (l) => {
      if (l.id === id && l.role === role) out.push(l);
      return out.length < n;
    });
    return out.reverse();
  }
}
