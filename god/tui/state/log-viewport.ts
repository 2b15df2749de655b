// The Logs pane's state: the bounded buffer of lines and the window onto it — filter, follow, pause, scroll.
import type { LogEntryFields } from '../../../protocol/redis-contract.ts';
import {
  isEmptyFilter,
  type LogFilter,
  matches as matchesFilter,
  NO_FILTER,
  parseFilter,
} from '../log-filter.ts';
import { fromStreamEntry, type LogLine, searchText } from '../log-line.ts';
import { Ring } from '../ring.ts';
import type { Changes } from './changes.ts';

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

const matches = (f: LogFilter, line: LogLine) => matchesFilter(f, line, searchText);

export class LogViewport {
  readonly lines: Ring<LogLine>;
  /** counts lines ever received, for the benchmark and the header rate */
  received = 0;
  filter: LogFilter = NO_FILTER;
  following = true;
  /** seq of the bottom line shown when not following */
  anchorSeq = -1;
  /** seq of the newest line visible while paused */
  pausedAt?: number;
  /** rows of the log pane at the last render, for page up/down */
  rows = 20;
  private matchCache?: { seq: number; filter: LogFilter; count: number };

  constructor(
    private readonly changes: Changes,
    capacity: number,
  ) {
    this.lines = new Ring<LogLine>(capacity);
  }

  // ---- data in ----
  push(line: LogLine): void {
    this.lines.push(line);
    this.received++;
    this.changes.data();
  }

  pushEntry(fields: LogEntryFields, streamId?: string): void {
    this.push(fromStreamEntry(fields, streamId));
  }

  // ---- the window ----
  /** the newest seq the view may show (frozen while paused) */
  private limitSeq(): number {
    const last = this.lines.nextSeq - 1;
    return this.pausedAt === undefined ? last : Math.min(this.pausedAt, last);
  }

  /** a filter's error, else undefined (and the filter applies) */
  setFilter(source: string): string | undefined {
    const { filter, error } = parseFilter(source);
    if (error) return error;
    this.filter = filter;
    this.matchCache = undefined;
    this.changes.view();
    return undefined;
  }

  toggleFollow(): void {
    this.following = !this.following;
    if (!this.following) this.anchorSeq = this.limitSeq();
    this.changes.view();
  }

  togglePause(): void {
    this.pausedAt = this.pausedAt === undefined ? this.lines.nextSeq - 1 : undefined;
    this.changes.view();
  }

  followNow(): void {
    this.following = true;
    this.changes.view();
  }

  /** scroll by matching lines; negative goes back in time. Scrolling down to the end follows again. */
  scroll(delta: number): void {
    const limit = this.limitSeq();
    let seq = this.following ? limit : Math.min(this.anchorSeq, limit);
    // start from the bottom line actually shown (the newest matching one)
    this.lines.walkBack(seq, (line, s) => {
      if (!matches(this.filter, line)) return true;
      seq = s;
      return false;
    });
    if (delta < 0) {
      let left = -delta;
      let last = seq;
      this.lines.walkBack(seq - 1, (line, s) => {
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
        const line = this.lines.at(s);
        if (line && matches(this.filter, line)) {
          seq = s;
          left--;
        }
      }
      if (left > 0 || seq >= limit) this.following = true;
    }
    this.anchorSeq = seq;
    this.changes.view();
  }

  /** the lowest anchor that still fills the pane */
  private topAnchor(): number {
    let n = 0;
    let seq = this.lines.firstSeq;
    for (let s = this.lines.firstSeq; s <= this.limitSeq(); s++) {
      const line = this.lines.at(s);
      if (line && matches(this.filter, line)) {
        seq = s;
        if (++n >= this.rows) break;
      }
    }
    return seq;
  }

  private matchedCount(): number {
    if (isEmptyFilter(this.filter)) return this.lines.length;
    const c = this.matchCache;
    // the count holds until a line arrives (a new nextSeq) or the filter changes
    if (c && c.seq === this.lines.nextSeq && c.filter === this.filter) return c.count;
    let count = 0;
    this.lines.walkBack(this.lines.nextSeq - 1, (line) => {
      if (matches(this.filter, line)) count++;
      return true;
    });
    this.matchCache = { seq: this.lines.nextSeq, filter: this.filter, count };
    return count;
  }

  /** every held line the filter lets through, oldest first, up to the newest one shown (a paused view stops
   * at the pause): what "save the log view" writes */
  matchedLines(): LogLine[] {
    const limit = this.limitSeq();
    const out: LogLine[] = [];
    for (let s = this.lines.firstSeq; s <= limit; s++) {
      const line = this.lines.at(s);
      if (line && matches(this.filter, line)) out.push(line);
    }
    return out;
  }

  /** the `rows` lines the log pane shows, oldest first */
  view(rows: number): LogView {
    this.rows = rows;
    const limit = this.limitSeq();
    const bottom = this.following ? limit : Math.min(this.anchorSeq, limit);
    const lines: LogLine[] = [];
    if (rows > 0 && !this.following && bottom < this.lines.firstSeq) {
      // the anchor fell out of the buffer: show the oldest lines still held
      for (let s = this.lines.firstSeq; s <= limit && lines.length < rows; s++) {
        const line = this.lines.at(s)!;
        if (matches(this.filter, line)) lines.push(line);
      }
    } else if (rows > 0) {
      this.lines.walkBack(bottom, (line) => {
        if (matches(this.filter, line)) lines.push(line);
        return lines.length < rows;
      });
      lines.reverse();
    }
    return {
      lines,
      held: this.lines.length,
      matched: this.matchedCount(),
      following: this.following,
      paused: this.pausedAt !== undefined,
      newWhilePaused: this.pausedAt === undefined ? 0 : this.lines.nextSeq - 1 - this.pausedAt,
    };
  }
}
