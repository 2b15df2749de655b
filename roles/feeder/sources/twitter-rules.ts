// Filtered-stream rules from the catalog: one term per title/alias (a phrase, or for everyday-word titles the
// word together with a movie word) plus its hashtag, packed with OR into as few rules as the API's length
// and count limits allow, tagged so that sync touches only our own rules.
import type { CatalogMovie } from '../../../protocol/redis-contract.ts';
import { foldWords } from '../match/fold.ts';
import { levelOf } from '../match/matcher.ts';

export interface RuleLimits {
  /** characters per rule (Twitter: 512) */
  maxLength: number;
  /** rules per stream (Twitter: 1000) */
  maxRules: number;
  /** tag of every rule we own */
  tag: string;
}

export interface StreamRule {
  id?: string;
  value: string;
  tag?: string;
}

/** `#ManOfSteel` form of a title (accents dropped, words capitalized), without the `#`. */
export const hashtag = (name: string) =>
  name
    .normalize('NFD')
    .replace(/\p{M}/gu, '')
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w[0].toUpperCase() + w.slice(1))
    .join('');

export function termsFor(catalog: CatalogMovie[]): string[] {
  const terms = new Set<string>();
  for (const m of catalog) {
    for (const name of [m.title, ...(m.aliases ?? [])]) {
      const words = foldWords(name);
      if (words.length === 0) continue;
      const phrase = words.length > 1 ? `"${words.join(' ')}"` : words[0];
      // an everyday word alone would pull in a large share of all tweets
      terms.add(levelOf(words) === 2 ? `(${phrase} (movie OR film OR trailer))` : phrase);
      const tag = hashtag(name);
      if (tag.length > 1 && !/^\d+$/.test(tag)) terms.add(`#${tag}`);
    }
  }
  return [...terms];
}

export interface PackResult {
  rules: StreamRule[];
  /** terms that did not fit (longer than a rule, or past the rule count) */
  left: number;
}

export function packRules(terms: string[], limits: RuleLimits): PackResult {
  const rules: StreamRule[] = [];
  let cur = '';
  let inCur = 0;
  let left = 0;
  const flush = () => {
    if (!cur) return;
    if (rules.length < limits.maxRules) rules.push({ value: cur, tag: limits.tag });
    else left += inCur;
    cur = '';
    inCur = 0;
  };
  for (const t of terms) {
    if (t.length > limits.maxLength) {
      left++;
      continue;
    }
    if (cur && cur.length + 4 + t.length > limits.maxLength) flush();
    cur = cur ? `${cur} OR ${t}` : t;
    inCur++;
  }
  flush();
  return { rules, left };
}

export interface RulesApi {
  list(): Promise<StreamRule[]>;
  add(rules: StreamRule[]): Promise<void>;
  remove(ids: string[]): Promise<void>;
}

/** Make the stream's rules with our tag exactly `desired`: add the missing, delete the stale. */
export async function syncRules(
  api: RulesApi,
  desired: StreamRule[],
  tag: string,
): Promise<{ added: number; deleted: number; kept: number }> {
  const existing = (await api.list()).filter((r) => r.tag === tag);
  const want = new Set(desired.map((r) => r.value));
  const have = new Set(existing.map((r) => r.value));
  const stale = existing.filter((r) => !want.has(r.value) && r.id).map((r) => r.id!);
  const missing = desired.filter((r) => !have.has(r.value));
  for (let i = 0; i < stale.length; i += 100) await api.remove(stale.slice(i, i + 100));
  for (let i = 0; i < missing.length; i += 100) await api.add(missing.slice(i, i + 100));
  return { added: missing.length, deleted: stale.length, kept: existing.length - stale.length };
}
