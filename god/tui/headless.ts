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
    const store = this.store;
    // logs: everything since the last print that is still held (a flood beyond the buffer is skipped)
    const logs = store.logs.lines;
    const from = Math.max(this.printedSeq, logs.firstSeq);
    for (let seq = from; seq < logs.nextSeq; seq++) this.printLog(logs.at(seq)!);
    this.printedSeq = logs.nextSeq;
    for (const proc of store.fleet.processes) {
      const key = `${proc.role}:${proc.id}`;
      if (this.procState.get(key) === proc.state) continue;
      this.procState.set(key, proc.state);
      this.emit(
        {
          type: 'process',
          at: new Date().toISOString(),
          role: proc.role,
          id: proc.id,
          host: proc.host,
          state: proc.state,
          pid: proc.pid,
          version: proc.version,
          clients: proc.clients,
          tweets_per_s: proc.tweetsPerS,
        },
        `process ${proc.id} (${proc.role}@${proc.host}) ${PROCESS_STATES[proc.state].label}${proc.pid ? ` pid ${proc.pid}` : ''}`,
      );
    }
    const top = store.movies.ranking.slice(0, this.o.top ?? 5);
    const key = top.map((movie) => movie.id).join(',');
    if (top.length && key !== this.rankingKey) {
      this.rankingKey = key;
      this.emit(
        { type: 'ranking', at: new Date(store.movies.at ?? Date.now()).toISOString(), movies: top },
        `ranking ${top.map((movie, i) => `${i + 1}. ${movie.title} (${movie.count})`).join('  ')}`,
      );
    }
    for (const alert of [...store.alerts.rows].reverse()) {
      if (this.alertKeys.has(alert.key)) continue;
      this.alertKeys.add(alert.key);
      this.emit(
        {
          type: 'alert',
          at: new Date(alert.at).toISOString(),
          kind: alert.kind,
          level: alert.level,
          message: alert.message,
        },
        `alert ${alert.kind} ${alert.message}`,
      );
    }
  }

  private printLog(line: LogLine): void {
    const shown = display(line);
    const at = new Date(shown.time).toISOString();
    this.emit(
      { type: 'log', at, role: line.role, id: line.id, host: line.host, level: line.level, msg: shown.text },
      `${at} ${line.role}@${line.host} ${line.level.toUpperCase().padEnd(5)} ${shown.text}`,
    );
  }

  close(): void {
    this.store.flush();
    this.print();
    this.unsubscribe();
    this.store.close();
  }
}
