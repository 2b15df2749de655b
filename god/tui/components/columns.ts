// Tables that drop their least useful columns when the terminal is narrow, like pm2's.
import { pad } from '../format.ts';

export interface Column<R> {
  key: string;
  title: string;
  width: number;
  /** 1 is always shown; higher numbers go first when space runs out */
  priority: number;
  align?: 'left' | 'right';
  /** takes the width left over (one per table) */
  flex?: boolean;
  cell(row: R): string;
}

/** The columns that fit in `width` (in their original order) and the flexible one's width. */
export function fitColumns<R>(cols: Column<R>[], width: number): Column<R>[] {
  const gap = 1;
  const byPriority = [...cols].sort((a, b) => a.priority - b.priority);
  const kept = new Set<Column<R>>();
  let used = 0;
  let full = false;
  for (const c of byPriority) {
    const need = c.width + (kept.size ? gap : 0);
    // once a column does not fit, the less useful ones go too (a smaller one must not jump the queue)
    if (c.priority === 1 || (!full && used + need <= width)) {
      kept.add(c);
      used += need;
    } else full = true;
  }
  const out = cols.filter((c) => kept.has(c)).map((c) => ({ ...c }));
  const flex = out.find((c) => c.flex);
  if (flex && used < width) flex.width += width - used;
  return out;
}

export function renderRow<R>(cols: Column<R>[], row: R): string {
  return cols.map((c) => pad(c.cell(row), c.width, c.align)).join(' ');
}

export function renderHeader<R>(cols: Column<R>[]): string {
  return cols.map((c) => pad(c.title, c.width, c.align)).join(' ');
}

/** First row to show so that `selected` stays visible in `rows` lines. */
export function scrollStart(selected: number, total: number, rows: number): number {
  if (total <= rows) return 0;
  return Math.max(0, Math.min(selected - Math.floor(rows / 2), total - rows));
}
