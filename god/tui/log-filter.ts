// The log pane's filter: `role:feeder level:warn host:ip-10 some text` — each term narrows the view.
import { LOG_LEVELS } from '../../protocol/redis-contract.ts';

/** the levels in order (owned by the Redis contract) */
export const LEVELS = LOG_LEVELS;
export type Level = (typeof LEVELS)[number];

export function levelRank(level: string): number {
  const i = LEVELS.indexOf(level as Level);
  return i < 0 ? 2 : i;
}

export interface LogFilter {
  /** the text as typed, shown back in the pane title */
  source: string;
  role?: string;
  host?: string;
  /** minimum level */
  level?: Level;
  /** lowercase words every line must contain */
  words: string[];
}

export const NO_FILTER: LogFilter = { source: '', words: [] };

/** Parse a filter; unknown `key:` prefixes count as text, a bad level is an error to show. */
export function parseFilter(source: string): { filter: LogFilter; error?: string } {
  const filter: LogFilter = { source: source.trim(), words: [] };
  let error: string | undefined;
  for (const term of filter.source.split(/\s+/).filter(Boolean)) {
    const m = /^(role|host|level|r|h|l):(.*)$/i.exec(term);
    if (!m) {
      filter.words.push(term.toLowerCase());
      continue;
    }
    const key = m[1]!.toLowerCase()[0];
    const value = m[2]!.toLowerCase();
    if (key === 'r') filter.role = value;
    else if (key === 'h') filter.host = value;
    else if ((LEVELS as readonly string[]).includes(value)) filter.level = value as Level;
    else error = `unknown level "${value}": use one of ${LEVELS.join(', ')}`;
  }
  return { filter, error };
}

export function isEmptyFilter(f: LogFilter): boolean {
  return !f.role && !f.host && !f.level && f.words.length === 0;
}

export interface FilterableLine {
  role: string;
  host: string;
  id: string;
  level: string;
}

/** `text(line)` gives what the words are searched in (called only when there are words). */
export function matches<L extends FilterableLine>(f: LogFilter, line: L, text: (l: L) => string): boolean {
  if (f.role && !line.role.toLowerCase().startsWith(f.role) && !line.id.toLowerCase().startsWith(f.role))
    return false;
  if (f.host && !line.host.toLowerCase().includes(f.host)) return false;
  if (f.level && levelRank(line.level) < levelRank(f.level)) return false;
  if (f.words.length) {
    const t = text(line).toLowerCase();
    for (const w of f.words) if (!t.includes(w)) return false;
  }
  return true;
}
