// The Alerts pane's rows: the keeper's alerts and God's own warnings, newest first, each once, at most 200.
import { safeText } from '../../core/logs.ts';
import type { Changes } from './changes.ts';

export interface AlertRow {
  key: string;
  at: number;
  /** silence, exception, process, god... */
  kind: string;
  level: 'warn' | 'error' | 'info';
  message: string;
  source?: string;
}

export const MAX_ALERTS = 200;

export class AlertList {
  rows: readonly AlertRow[] = [];
  private seq = 0;

  constructor(private readonly changes: Changes) {}

  push(a: Omit<AlertRow, 'key'> & { key?: string }): void {
    const key = a.key ?? `a${++this.seq}`;
    if (this.rows.some((x) => x.key === key)) return;
    // alert texts quote log lines (exception messages): terminal-safe like the logs pane
    this.rows = [{ ...a, message: safeText(a.message), key }, ...this.rows].slice(0, MAX_ALERTS);
    this.changes.data();
  }
}
