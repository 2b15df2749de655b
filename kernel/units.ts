// The duration and size grammar every flag, env var, config key and playbook field shares (one zod schema
// each), and the one byte formatter.
import { z } from 'zod';

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/;
const DURATION_UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
export const DURATION_EXAMPLES = '250ms, 30s, 5m, 1h';
/** the units a duration may end with (none: milliseconds) */
export const DURATION_UNITS = Object.keys(DURATION_UNIT_MS);

/** "90s", "5m", "250ms", "1h", "3d" or a bare number of milliseconds ("1500"); undefined when it is none of these. */
export function parseDurationText(text: string): number | undefined {
  const m = DURATION.exec(text.trim());
  if (!m) return undefined;
  return Math.round(Number(m[1]) * DURATION_UNIT_MS[(m[2] ?? 'ms') as keyof typeof DURATION_UNIT_MS]);
}

const notADuration = (v: unknown) => `"${v}" is not a duration (e.g. ${DURATION_EXAMPLES})`;

/** A duration in milliseconds: a number is taken as milliseconds as it is, a string by the grammar above. */
export const durationMs = z.union([z.number(), z.string()]).transform((v, ctx) => {
  if (typeof v === 'number') return v;
  const ms = parseDurationText(v);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: notADuration(v) });
    return z.NEVER;
  }
  return ms;
});

/**
 * A duration kept as its (trimmed) text, checked by the same grammar: config keys and playbook fields that are
 * handed on (to a role's env var, to a step) and read with `durationMs` where they are used.
 */
export const durationText = z
  .union([z.string(), z.number()])
  .transform((v) => String(v).trim())
  .superRefine((v, ctx) => {
    if (parseDurationText(v) === undefined) ctx.addIssue({ code: 'custom', message: notADuration(v) });
  });

const SIZE = /^(\d+(?:\.\d+)?)\s*(b|kb|k|mb|m|gb|g)?$/i;
const SIZE_UNIT_BYTES = { b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 } as const;

/** "512mb", "2gb", "64kb", "64k" or a bare number of bytes (binary multiples); undefined when none of these. */
export function parseSizeText(text: string): number | undefined {
  const m = SIZE.exec(text.trim());
  if (!m) return undefined;
  const unit = (m[2] ?? 'b').toLowerCase()[0] as keyof typeof SIZE_UNIT_BYTES;
  return Math.round(Number(m[1]) * SIZE_UNIT_BYTES[unit]);
}

/** A size in bytes: a number as it is, a string by the grammar above. */
export const byteSize = z.union([z.number(), z.string()]).transform((v, ctx) => {
  if (typeof v === 'number') return v;
  const bytes = parseSizeText(v);
  if (bytes === undefined) {
    ctx.addIssue({ code: 'custom', message: `"${v}" is not a size (e.g. 64mb, 1gb, 500kb)` });
    return z.NEVER;
  }
  return bytes;
});

/**
 * Bytes for people, in binary units. `text` (the CLI): "512 B", "1.5 KiB", "12 MiB". `compact` (the dashboard's
 * narrow columns): "512B", "1.5K", "12.0M", "120M". Absent or not finite: "-".
 */
export function formatBytes(n: number | null | undefined, style: 'text' | 'compact' = 'text'): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '-';
  const compact = style === 'compact';
  if (n < 1024) return compact ? `${n}B` : `${n} B`;
  const units = compact ? ['K', 'M', 'G', 'T'] : ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  if (compact) return `${v >= 100 ? Math.round(v) : v.toFixed(1)}${units[i]}`;
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

/**
 * A duration for people. `text` (CLI tables, alert texts): "45s", "3m07s", "2h05m", "3d4h". `compact` (the
 * dashboard's narrow columns): "45s", "3m07", "2h05", up to 48 h, then "3d4h". Absent, negative or not
 * finite: "-".
 */
export function formatDuration(ms: number | null | undefined, style: 'text' | 'compact' = 'text'): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms < 0) return '-';
  const s = style === 'compact' ? Math.floor(ms / 1000) : Math.round(ms / 1000);
  const two = (n: number) => String(n).padStart(2, '0');
  const [m, h] = [Math.floor(s / 60), Math.floor(s / 3600)];
  const unit = style === 'text' ? ['s', 'm'] : ['', ''];
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${m}m${two(s % 60)}${unit[0]}`;
  if (h < (style === 'text' ? 24 : 48)) return `${h}h${two(m % 60)}${unit[1]}`;
  return `${Math.floor(h / 24)}d${h % 24}h`;
}
