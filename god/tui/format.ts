// Short, fixed-width renderings of numbers and times for table cells.
import { formatDuration } from '../../kernel/units.ts';

export function pad(text: string, width: number, align: 'left' | 'right' = 'left'): string {
  if (width <= 0) return '';
  if (text.length > width) return width === 1 ? text.slice(0, 1) : `${text.slice(0, width - 1)}…`;
  return align === 'left' ? text.padEnd(width) : text.padStart(width);
}

/** Dashboard cells: "3m07", "2h05" (kernel/units.ts owns the format). */
export const duration = (ms: number | undefined): string => formatDuration(ms, 'compact');

export function num(n: number | undefined, digits = 0): string {
  if (n === undefined || !Number.isFinite(n)) return '-';
  if (Math.abs(n) >= 10_000) return `${(n / 1000).toFixed(n >= 100_000 ? 0 : 1)}k`;
  return n.toFixed(digits);
}

export function clock(ms: number, withMs = true): string {
  const date = new Date(ms);
  const hh = String(date.getHours()).padStart(2, '0');
  const mm = String(date.getMinutes()).padStart(2, '0');
  const ss = String(date.getSeconds()).padStart(2, '0');
  return withMs
    ? `${hh}:${mm}:${ss}.${String(date.getMilliseconds()).padStart(3, '0')}`
    : `${hh}:${mm}:${ss}`;
}
