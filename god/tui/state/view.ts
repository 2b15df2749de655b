// View state: which pane has the focus, the selection in each, the mode (help, filter, confirm, deploy) and the
// last notice. Key presses change it; a change renders at once.
import type { Changes } from './changes.ts';

export const PANES = ['fleet', 'processes', 'logs', 'movies', 'alerts'] as const;
export type PaneId = (typeof PANES)[number];
export const PANE_TITLES: Record<PaneId, string> = {
  fleet: 'Fleet',
  processes: 'Processes',
  logs: 'Logs',
  movies: 'Movies',
  alerts: 'Alerts',
};

export interface ConfirmRequest {
  title: string;
  body: string;
  /** a number the operator may edit before confirming (e.g. clients to shed) */
  count?: { label: string; value: number; min: number; max: number };
  run: (count?: number) => Promise<unknown> | unknown;
  /** the operator said no (esc, n): whoever waits on the answer hears it */
  cancel?: () => void;
  /** what God will change, from the provider's plan (arrives after the prompt opens); a note when it failed */
  plan?: { changes: string[] } | { error: string };
}

export type Mode =
  | { kind: 'normal' }
  | { kind: 'help' }
  | { kind: 'filter'; draft: string; previous: string; error?: string }
  | { kind: 'confirm'; req: ConfirmRequest; countText: string }
  | { kind: 'deploy' }
  /** the live feed of a movie (Enter in Movies): store.watch */
  | { kind: 'watch' }
  /** one process in full (Enter in Processes) */
  | { kind: 'detail'; role: string; id: string };

export interface Notice {
  text: string;
  level: 'info' | 'warn' | 'error';
  at: number;
}

export class ViewState {
  focus: PaneId = 'processes';
  mode: Mode = { kind: 'normal' };
  notice?: Notice;
  readonly selected: Record<PaneId, number> = { fleet: 0, processes: 0, logs: 0, movies: 0, alerts: 0 };

  constructor(
    private readonly changes: Changes,
    private readonly now: () => number,
  ) {}

  setFocus(p: PaneId): void {
    this.focus = p;
    this.changes.view();
  }

  cyclePane(delta: 1 | -1): void {
    const i = PANES.indexOf(this.focus);
    this.setFocus(PANES[(i + delta + PANES.length) % PANES.length]!);
  }

  /** keep pane `p`'s selection within its `n` rows (its data changed) */
  clamp(p: PaneId, n: number): void {
    this.selected[p] = Math.max(0, Math.min(this.selected[p], n - 1));
  }

  /** move pane `p`'s selection by `delta` within its `n` rows */
  moveSelection(p: PaneId, delta: number, n: number): void {
    this.selected[p] = Math.max(0, Math.min(n - 1, this.selected[p] + delta));
    this.changes.view();
  }

  setMode(mode: Mode): void {
    this.mode = mode;
    this.changes.view();
  }

  confirm(req: ConfirmRequest): void {
    this.setMode({ kind: 'confirm', req, countText: req.count ? String(req.count.value) : '' });
  }

  /** the plan behind an open prompt arrived: show it (if that prompt is still open) */
  planned(req: ConfirmRequest, plan: NonNullable<ConfirmRequest['plan']>): void {
    if (this.mode.kind !== 'confirm' || this.mode.req !== req) return;
    req.plan = plan;
    this.changes.view();
  }

  /** tell the operator now (an action started, ended, failed) */
  setNotice(text: string, level: Notice['level'] = 'info'): void {
    this.notice = { text, level, at: this.now() };
    this.changes.view();
  }

  /** news from the feeds: shown with the next flush */
  note(n: Notice): void {
    this.notice = n;
    this.changes.data();
  }
}
