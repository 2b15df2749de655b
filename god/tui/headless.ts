// The dashboard without a terminal (not a TTY, or CI set): the same feeds, printed as they change — plain
// lines, or NDJSON with --json — so a CI log or a pipe sees what the panes would show.
import type { GodEvent } from '../core/events.ts';
import { display, type LogLine } from './log-line.ts';
import { DashboardStore, type ProcessRow } from './store.ts';

export type HeadlessLine =
  | { type: 'log'; at: string; role: string; id: string; host: string; level: string; msg: string }
  | {
      type: 'process';
      at: string;
      role: string;
      id: string;
      host: string;
      state: ProcessRow['state'];
      pid?: number;
      version?: string;
      clients?: number;
      tweets_per_s?: number;
    }
  | { type: 'ranking'; at: string; movies: Array<{ id: number; title: string; count: number }> }
  | { type: 'alert'; at: string; kind: string; level: string; message: string }
  | (GodEvent & { at: string });

export interface HeadlessOptions {
  /** one item: NDJSON `{type, ...data}` with --json, else the plain text (the CLI's Output.item) */
  item: (type: string, data: Record<string, unknown>, plain: string) => void;
  /** ranking lines show this many movies */
  top?: number;
}

/**
 * A store whose changes are printed instead of drawn. Log lines are printed as they arrive; processes when
 * their state changes; the ranking when its order changes; alerts once.
 */
export class HeadlessPrinter {
  readonly store: DashboardStore;
  private printedSeq: number;
  private readonly procState = new Map<string, string>();
  private rankingKey = '';
  private readonly alertKeys = new Set<string>();
  private readonly unsubscribe: () => void;

  constructor(private readonly o: HeadlessOptions) {
    this.store = new DashboardStore({ flushMs: 100 });
    this.printedSeq = this.store.logs.nextSeq;
    this.unsubscribe = this.store.subscribe(() => this.print());
  }

  private emit(line: HeadlessLine, text: string): void {
    const { type, ...data } = line;
    this.o.item(type, data, text);
  }

  /** God's own events, printed at once (they do not go through the store's panes). */
  event(ev: GodEvent & { at?: string }): void {
    const at = ev.at ?? new Date().toISOString();
    let text: string;
    switch (ev.type) {
      case 'step':
        text = `step ${ev.step} ${ev.phase}${ev.ok === false ? ` failed: ${ev.error}` : ''}`;
        break;
      case 'host':
        text = `host ${ev.host} ${ev.step} ${ev.phase}${ev.ok === false ? ` failed: ${ev.error}` : ''}`;
        break;
      case 'process':
        text = `process ${ev.id} ${ev.action}${ev.code != null ? ` (code ${ev.code})` : ''}`;
        break;
      case 'machine':
        text = `machine ${ev.id} ${ev.action}`;
        break;
      default:
        text = `${ev.type}: ${ev.message}`;
    }
    this.emit({ ...ev, at }, text);
  }

  print(): void {
    const s = this.store;
    // logs: everything since the last print that is still held (a flood beyond the buffer is skipped)
    const from = Math.max(this.printedSeq, s.logs.firstSeq);
    for (let seq = from; seq < s.logs.nextSeq; seq++) this.printLog(s.logs.at(seq)!);
    this.printedSeq = s.logs.nextSeq;
    for (const p of s.processes) {
      const key = `${p.role}:${p.id}`;
      if (this.procState.get(key) === p.state) continue;
      this.procState.set(key, p.state);
      this.emit(
        {
          type: 'process',
          at: new Date().toISOString(),
          role: p.role,
          id: p.id,
          host: p.host,
          state: p.state,
          pid: p.pid,
          version: p.version,
          clients: p.clients,
          tweets_per_s: p.tweetsPerS,
        },
        `process ${p.id} (${p.role}@${p.host}) ${p.state === 'ok' ? 'online' : p.state}${p.pid ? ` pid ${p.pid}` : ''}`,
      );
    }
    const top = s.ranking.slice(0, this.o.top ?? 5);
    const key = top.map((m) => m.id).join(',');
    if (top.length && key !== this.rankingKey) {
      this.rankingKey = key;
      this.emit(
        { type: 'ranking', at: new Date(s.rankingAt ?? Date.now()).toISOString(), movies: top },
        `ranking ${top.map((m, i) => `${i + 1}. ${m.title} (${m.count})`).join('  ')}`,
      );
    }
    for (const a of [...s.alerts].reverse()) {
      if (this.alertKeys.has(a.key)) continue;
      this.alertKeys.add(a.key);
      this.emit(
        { type: 'alert', at: new Date(a.at).toISOString(), kind: a.kind, level: a.level, message: a.message },
        `alert ${a.kind} ${a.message}`,
      );
    }
  }

  private printLog(l: LogLine): void {
    const d = display(l);
    const at = new Date(d.time).toISOString();
    this.emit(
      { type: 'log', at, role: l.role, id: l.id, host: l.host, level: l.level, msg: d.text },
      `${at} ${l.role}@${l.host} ${l.level.toUpperCase().padEnd(5)} ${d.text}`,
    );
  }

  close(): void {
    this.store.flush();
    this.print();
    this.unsubscribe();
    this.store.close();
  }
}
