// How the CLI prints: plain lines (colored on a TTY; progress and events on stderr, results on stdout) or,
// with --json, NDJSON on stdout: every GodEvent as it happens, then one `result` line (or an `error` line).
import { z } from 'zod';
import { ERROR_CODES, UserError } from '../../kernel/errors.ts';
import { formatDuration } from '../../kernel/units.ts';
import { scrubSecrets } from '../../kernel/redact.ts';
import { type GodEvent, StampedEventSchema } from '../core/events.ts';

// ---- the NDJSON shapes (stable: CI and the TUI read them) ----
/** an event line: God's one event union (core/events.ts), with its time */
export const EventLineSchema = StampedEventSchema;
export const ErrorLineSchema = z.object({
  type: z.literal('error'),
  at: z.string(),
  code: z.string(),
  message: z.string(),
  hint: z.string().optional(),
  fatal: z.literal(true),
});
export function resultLineSchema<T extends z.ZodType>(command: string, data: T) {
  return z.object({
    type: z.literal('result'),
    at: z.string(),
    command: z.literal(command),
    ok: z.boolean(),
    data,
  });
}

export interface Writer {
  write(s: string): unknown;
}

export type Style = 'red' | 'green' | 'yellow' | 'blue' | 'magenta' | 'cyan' | 'gray' | 'bold' | 'dim';
const CODES: Record<Style, [number, number]> = {
  red: [31, 39],
  green: [32, 39],
  yellow: [33, 39],
  blue: [34, 39],
  magenta: [35, 39],
  cyan: [36, 39],
  gray: [90, 39],
  bold: [1, 22],
  dim: [2, 22],
};

export interface OutputOptions {
  json: boolean;
  color: boolean;
  stdout?: Writer;
  stderr?: Writer;
}

/** Color on a TTY unless NO_COLOR is set; FORCE_COLOR forces it. */
export function wantColor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined) return env.FORCE_COLOR !== '0';
  return !!stream.isTTY;
}

export class Output {
  readonly json: boolean;
  readonly color: boolean;
  private readonly stdout: Writer;
  private readonly stderr: Writer;
  private suspended = false;
  /** results held back while set (holdResults): the audit record's events come before the last line */
  private held?: Array<() => void>;

  constructor(o: OutputOptions) {
    this.json = o.json;
    this.color = o.color;
    this.stdout = o.stdout ?? process.stdout;
    this.stderr = o.stderr ?? process.stderr;
  }

  style(s: string, ...styles: Style[]): string {
    if (!this.color) return s;
    return styles.reduce((acc, st) => `\x1b[${CODES[st][0]}m${acc}\x1b[${CODES[st][1]}m`, s);
  }

  // every line God prints goes through scrubSecrets: a URL with a password that slipped into a message or
  // a result is still shown redacted
  private line(obj: Record<string, unknown>): void {
    // JSON.stringify escapes C0 controls but leaves C1 (U+009B is CSI to some terminals) and bidi overrides
    const text = JSON.stringify(obj).replace(
      /[\u0080-\u009f\u202a-\u202e\u2066-\u2069]/g,
      (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
    );
    this.stdout.write(`${scrubSecrets(text)}\n`);
  }

  /**
   * Stop printing events until resume(): a full-screen dashboard shows them in its panes, and lines written
   * under it would tear the screen. Results, items and errors still print.
   */
  suspend(): void {
    this.suspended = true;
  }
  resume(): void {
    this.suspended = false;
  }

  /** One event from a service. */
  event(ev: GodEvent & { at?: string }): void {
    if (this.suspended) return;
    if (this.json) {
      this.line({ ...ev, at: ev.at ?? new Date().toISOString() });
      return;
    }
    const text = this.renderEvent(ev);
    if (text !== undefined) this.stderr.write(`${scrubSecrets(text)}\n`);
  }

  renderEvent(ev: GodEvent): string | undefined {
    const ms = (n?: number) => (n === undefined ? '' : this.style(` (${n} ms)`, 'gray'));
    switch (ev.type) {
      case 'step':
        if (ev.phase === 'start') return `${this.style('▸', 'cyan')} ${ev.step}…`;
        return ev.ok === false
          ? `${this.style('✗', 'red')} ${ev.step}${ev.error ? `: ${ev.error}` : ''}${ms(ev.ms)}`
          : `${this.style('✓', 'green')} ${ev.step}${ms(ev.ms)}`;
      case 'host': {
        const who = this.style(ev.host, 'bold');
        if (ev.phase === 'end') {
          return ev.ok === false
            ? `  ${this.style('✗', 'red')} ${who} ${ev.step}: ${ev.error ?? 'failed'}${ms(ev.ms)}`
            : `  ${this.style('✓', 'green')} ${who} ${ev.step}${ev.detail ? ` ${ev.detail}` : ''}${ms(ev.ms)}`;
        }
        const pct = ev.progress !== undefined ? ` ${Math.round(ev.progress * 100)}%` : '';
        return `  ${this.style('·', 'gray')} ${who} ${ev.step}${ev.detail ? `: ${ev.detail}` : ''}${pct}`;
      }
      case 'machine':
        return `${this.style('machine', 'magenta')} ${ev.id} (${ev.role}) ${ev.action}${ev.address ? ` at ${ev.address}` : ''}`;
      case 'process': {
        const color: Style = ev.action === 'started' ? 'green' : ev.action === 'stopped' ? 'gray' : 'yellow';
        const extra = [ev.pid ? `pid ${ev.pid}` : '', ev.detail ?? ''].filter(Boolean).join(', ');
        return `${this.style(ev.action.padEnd(10), color)} ${ev.id}${extra ? this.style(` (${extra})`, 'gray') : ''}`;
      }
      case 'info':
        return ev.message;
      case 'warn':
        return `${this.style('warning:', 'yellow')} ${ev.message}${ev.hint ? `\n  → ${ev.hint}` : ''}`;
      case 'error':
        return `${this.style('error:', 'red')} ${ev.message}${ev.hint ? `\n  → ${ev.hint}` : ''}`;
      case 'output':
        return undefined; // a host's output is the command's own stdout (god exec prints it there)
      case 'audit':
        return undefined; // the change itself was reported; `god audit` lists the records
    }
  }

  /**
   * Hold the result back until releaseResults(): main.ts records an audited change after its command ran, and
   * the record's events must not follow the result, which is the last line.
   */
  holdResults(): void {
    this.held ??= [];
  }
  releaseResults(): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const print of held) print();
  }

  /** The command's outcome: one `result` line with --json, else the rendered lines on stdout. */
  result<T>(command: string, data: T, render: (data: T) => string[], ok = true): void {
    if (this.held) {
      this.held.push(() => this.result(command, data, render, ok));
      return;
    }
    if (this.json) {
      this.line({ type: 'result', at: new Date().toISOString(), command, ok, data });
      return;
    }
    const lines = render(data);
    if (lines.length) this.stdout.write(`${scrubSecrets(lines.join('\n'))}\n`);
  }

  /** One item of a stream (a log line): `{type, ...data}` with --json, else `plain`. */
  item(type: string, data: Record<string, unknown>, plain: string): void {
    if (this.json) this.line({ type, ...data });
    else this.stdout.write(`${plain}\n`);
  }

  /** An error as "what went wrong / what to do next". */
  error(err: unknown): void {
    const ue = err instanceof UserError ? err : undefined;
    const message = ue ? ue.message : err instanceof Error ? err.message : String(err);
    const code = ue?.code ?? 'GOD_INTERNAL';
    const hint = ue ? ue.hint : ERROR_CODES.GOD_INTERNAL.hint;
    if (this.json) {
      this.line({
        type: 'error',
        at: new Date().toISOString(),
        code,
        message,
        ...(hint ? { hint } : {}),
        fatal: true,
      });
      return;
    }
    let text = `${this.style('error:', 'red', 'bold')} ${message}`;
    if (hint) text += `\n${this.style('  → what to do:', 'cyan')} ${hint.replace(/\n/g, '\n    ')}`;
    if (!ue && err instanceof Error && err.stack && process.env.GOD_DEBUG) text += `\n${err.stack}`;
    this.stderr.write(`${scrubSecrets(text)}\n`);
  }
}

// ---- small helpers for tables ----

/** Columns padded to their widest cell; ANSI codes do not count towards the width. */
export function table(rows: string[][], header?: string[]): string[] {
  const all = header ? [header, ...rows] : rows;
  const visible = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '').length;
  const widths: number[] = [];
  for (const r of all) {
    r.forEach((c, i) => {
      widths[i] = Math.max(widths[i] ?? 0, visible(c));
    });
  }
  return all.map((r) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c + ' '.repeat(widths[i]! - visible(c))))
      .join('  ')
      .trimEnd(),
  );
}

/** Seconds in CLI tables: "3m07s" (kernel/units.ts owns the format). */
export const fmtDuration = (s: number | null | undefined): string =>
  formatDuration(s === null || s === undefined ? s : s * 1000);
