// The naive baseline: one case-insensitive word-boundary regex per title and alias, tried in a loop.
import type { CatalogMovie } from '../../protocol/redis-contract.ts';

export class NaiveMatcher {
  private readonly res: Array<{ id: number; re: RegExp }>;

  constructor(catalog: CatalogMovie[]) {
    const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    this.res = catalog.flatMap((m) =>
      [m.title, ...(m.aliases ?? [])].map((t) => ({
        id: m.id,
        re: new RegExp(`(^|\\W)${esc(t)}(\\W|$)`, 'i'),
      })),
    );
  }

  match(text: string): number[] {
    const out: number[] = [];
    for (const { id, re } of this.res) if (re.test(text) && !out.includes(id)) out.push(id);
    return out;
  }
}
