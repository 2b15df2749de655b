// The labelled evaluation of the matcher: precision and recall over (tweet, movie) pairs, on the real catalog.
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { CatalogMovie } from '../../../protocol/redis-contract.ts';
import { Matcher } from '../../../roles/feeder/match/matcher.ts';

const here = (f: string) => fileURLToPath(new URL(f, import.meta.url));

export interface LabelledTweet {
  text: string;
  /** catalog ids the tweet is about */
  movies: number[];
}

export function loadEvalSet(catalog: CatalogMovie[]): LabelledTweet[] {
  const byTitle = new Map(catalog.map((m) => [m.title, m.id]));
  const lines = (f: string) =>
    fs
      .readFileSync(here(f), 'utf8')
      .split('\n')
      .filter((l) => l.trim() && !l.startsWith('#'));
  const out: LabelledTweet[] = [];
  for (const l of lines('positives.txt')) {
    const i = l.indexOf(' | ');
    const titles = l
      .slice(0, i)
      .split(';')
      .map((t) => t.trim());
    const movies = titles.map((t) => {
      const id = byTitle.get(t);
      if (id === undefined) throw new Error(`eval set: "${t}" is not a catalog title (line: ${l})`);
      return id;
    });
    out.push({ text: l.slice(i + 3), movies });
  }
  for (const l of lines('negatives.txt')) out.push({ text: l, movies: [] });
  return out;
}

export interface EvalResult {
  tweets: number;
  positives: number;
  negatives: number;
  expectedPairs: number;
  predictedPairs: number;
  truePairs: number;
  precision: number;
  recall: number;
  errors: Array<{ text: string; missed: string[]; wrong: string[] }>;
}

export function evaluate(matcher: Matcher, set: LabelledTweet[]): EvalResult {
  const title = new Map(matcher.movies.map((m) => [m.id, m.title]));
  let expected = 0;
  let predicted = 0;
  let correct = 0;
  const errors: EvalResult['errors'] = [];
  for (const t of set) {
    const got = matcher.match(t.text);
    expected += t.movies.length;
    predicted += got.length;
    const hit = got.filter((id) => t.movies.includes(id));
    correct += hit.length;
    const missed = t.movies.filter((id) => !got.includes(id)).map((id) => title.get(id)!);
    const wrong = got.filter((id) => !t.movies.includes(id)).map((id) => title.get(id)!);
    if (missed.length || wrong.length) errors.push({ text: t.text, missed, wrong });
  }
  return {
    tweets: set.length,
    positives: set.filter((t) => t.movies.length > 0).length,
    negatives: set.filter((t) => t.movies.length === 0).length,
    expectedPairs: expected,
    predictedPairs: predicted,
    truePairs: correct,
    precision: predicted ? correct / predicted : 1,
    recall: expected ? correct / expected : 1,
    errors,
  };
}

export function loadCatalogFile(file: string): CatalogMovie[] {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as CatalogMovie[];
}

// `npx tsx test/feeder/eval/evaluate.ts` prints the figures and every error
if (process.argv[1] && fileURLToPath(import.meta.url) === fs.realpathSync(process.argv[1])) {
  const catalog = loadCatalogFile(here('../../../data/movies.json'));
  const r = evaluate(new Matcher(catalog), loadEvalSet(catalog));
  for (const e of r.errors) {
    console.log(
      `${e.missed.length ? `MISSED ${e.missed.join(', ')}` : ''}${e.wrong.length ? ` WRONG ${e.wrong.join(', ')}` : ''}\t${e.text}`,
    );
  }
  const { errors, ...figures } = r;
  console.log(figures);
}
