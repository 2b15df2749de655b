// The dashboard without a terminal (not a TTY, or CI set): the same feeds, printed as they change — plain
// lines, or NDJSON with --json — so a CI log or a pipe sees what the panes would show. God's own events are not
// printed here: the command's Output prints them (core/events.ts' one stream), like every other command's.
import { z } from 'zod';
import { RankedMovieSchema } from '../../protocol/messages.ts';
import { LogRecordSchema } from '../core/logs.ts';
import { PROCESS_STATES, ProcessStateSchema } from '../core/process-states.ts';
import { display, type LogLine } from './log-line.ts';
import { DashboardStore } from './store.ts';

/** The items `god dashboard` prints off a terminal (NDJSON with --json), documented in god/EVENTS.md. */
export const DashboardItemSchema = z.discriminatedUnion('type', [
  // a log line as `god logs` reads it from the stream, without its cursor and extra fields
  z.strictObject({
    type: z.literal('log'),
    ...LogRecordSchema.pick({ at: true, role: true, id: true, host: true, level: true, msg: true }).shape,
  }),
  z.strictObject({
    type: z.literal('process'),
    at: z.string(),
    role: z.string(),
    id: z.string(),
    host: z.string(),
    state: ProcessStateSchema,
    pid: z.number().int().optional(),
    version: z.string().optional(),
    clients: z.number().optional(),
    tweets_per_s: z.number().optional(),
  }),
  z.strictObject({
    type: z.literal('ranking'),
    at: z.string(),
    movies: z.array(RankedMovieSchema),
  }),
  z.strictObject({
    type: z.literal('alert'),
    at: z.string(),
    kind: z.string(),
    level: z.enum(['info', 'warn', 'error']),
    message: z.string(),
  }),
]);
export type HeadlessLine = z.infer<typeof DashboardItemSchema>;

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
    this.printedSeq = this.store.logs.lines.nextSeq;
    this.unsubscribe = this.store.subscribe(() => this.print());
  }

  private emit(line: HeadlessLine, text: string): void {
    const { type, ...data } = line;
    this.o.item(type, data, text);
  }

  print(): void {
    const s = this.store;
    // logs: everything since the last print that is still held (a flood beyond the buffer is skipped)
    const logs = s.logs.lines;
    const from = Math.max(this.printedSeq, logs.firstSeq);
    for (let seq = from; seq < logs.nextSeq; seq++) this.printLog(logs.at(seq)!);
    this.printedSeq = logs.nextSeq;
    for (const p of s.fleet.processes) {
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
        `process ${p.id} (${p.role}@${p.host}) ${PROCESS_STATES[p.state].label}${p.pid ? ` pid ${p.pid}` : ''}`,
      );
    }
    const top = s.movies.ranking.slice(0, this.o.top ?? 5);
    const key = top.map((m) => m.id).join(',');
    if (top.length && key !== this.rankingKey) {
      this.rankingKey = key;
      this.emit(
        { type: 'ranking', at: new Date(s.movies.at ?? Date.now()).toISOString(), movies: top },
        `ranking ${top.map((m, i) => `${i + 1}. ${m.title} (${m.count})`).join('  ')}`,
      );
    }
    for (const a of [...s.alerts.rows].reverse()) {
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
