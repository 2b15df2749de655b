// Decides which catalog movies a tweet talks about. One Aho-Corasick pass finds every title, alias and
// hashtag form on word boundaries; hits on titles that are also everyday words ("Her", "Rush", "42") are kept
// only with movie context around them (see accept()). Most tweets have no hit and cost one table walk.
import type { CatalogMovie } from '../../../protocol/redis-contract.ts';
import { Automaton } from './automaton.ts';
import { foldWords, type Token, tokenize } from './fold.ts';
import * as words from './words.ts';

// local bindings: imported ones cost a getter call per use under tsx, and these sit on the hot path
const { ALWAYS_AMBIGUOUS, COMMON_WORDS, MOVIE_WORDS, STOPWORDS, WATCH_VERBS } = words;

/**
 * How much evidence a form needs:
 * 0 — distinctive (a rare word, a number in a longer title, a long hashtag form): always a match;
 * 1 — a rare single word ("Inception") or a phrase of everyday words ("Date Night"): capitalization or context;
 * 2 — an everyday word, a name, a number, a function word ("Her", "Rush", "42", "The Town"): context.
 */
export type Level = 0 | 1 | 2;

interface Form {
  movie: number;
  level: Level;
  /** written without spaces, as in a hashtag or handle ("manofsteel") */
  concat: boolean;
  /** 0 primary title, 1 alias, 2 derived (article dropped, & ↔ and, II ↔ 2) */
  priority: number;
}

/** Words after a title that make it a film even in lowercase ("frozen trailer"). */
const STRONG_AFTER = new Set(
  `trailer trailers teaser premiere premieres soundtrack sequel prequel dvd bluray imax 3d tickets review
  reviews spoilers spoiler screening boxoffice remake cast`.split(/\s+/),
);
const VENUE = new Set([
  'imax',
  '3d',
  'theaters',
  'theatres',
  'cinemas',
  'cinema',
  'theater',
  'theatre',
  'netflix',
]);
const SKIPPABLE_BEFORE = new Set(['the', 'a', 'an', 'to', 'new']);
const QUOTES = new Set(['"', "'", '“', '”', '‘', '’', '«', '»']);
const ROMAN: Record<string, string> = {
  ii: '2',
  iii: '3',
  iv: '4',
  v: '5',
  vi: '6',
  '2': 'ii',
  '3': 'iii',
  '4': 'iv',
};
const SENTENCE_BREAK = /[.!?:;\n|]|\p{Extended_Pictographic}/u;
const isNumber = (w: string) => /^\d+$/.test(w);

export interface MatchCandidate {
  movie: number;
  form: string;
  level: Level;
  start: number;
  end: number;
  accepted: boolean;
  why: string;
  weak?: boolean;
  indirect?: boolean;
  hashtag?: boolean;
}

export class Matcher {
  readonly movies: CatalogMovie[];
  private readonly automaton: Automaton;
  private readonly forms: Form[];
  private readonly keys: string[];

  constructor(catalog: CatalogMovie[]) {
    this.movies = catalog;
    const byKey = new Map<string, Form>();
    const add = (key: string, f: Form) => {
      if (!key) return;
      const prev = byKey.get(key);
      // a key two movies share goes to the one whose own title it is, then to the newer release
      if (prev && (prev.priority < f.priority || (prev.priority === f.priority && !this.newer(f, prev))))
        return;
      byKey.set(key, f);
    };
    catalog.forEach((m, movie) => {
      const names = [m.title, ...(m.aliases ?? [])];
      names.forEach((name, ni) => {
        for (const [words, derived] of variants(name)) {
          const priority = ni === 0 && !derived ? 0 : derived ? 2 : 1;
          add(words.join(' '), { movie, level: levelOf(words), concat: false, priority });
          const concat = words.join('');
          if (words.length > 1) {
            add(concat, { movie, level: concat.length >= 6 ? 0 : 2, concat: true, priority: priority + 1 });
          }
          // "#GravityMovie", "@FrozenMovie"
          add(`${concat}movie`, { movie, level: 0, concat: true, priority: priority + 1 });
        }
      });
    });
    this.keys = [...byKey.keys()];
    this.forms = [...byKey.values()];
    this.automaton = new Automaton(this.keys);
  }

  get states(): number {
    return this.automaton.states;
  }

  private newer(a: Form, b: Form): boolean {
    return (this.movies[a.movie].year ?? 0) > (this.movies[b.movie].year ?? 0);
  }

  /** Catalog ids of the movies the tweet is about, in order of first mention. */
  match(text: string): number[] {
    const a = this.automaton;
    const n = a.scan(text);
    if (n === 0) return [];
    if (n === 1) {
      const f = this.forms[a.hitKey[0]];
      if (f.level === 0 && !isMentionOf(text, a.spanOf(0)[0], f)) return [this.movies[f.movie].id];
    }
    const out: number[] = [];
    for (const c of this.evaluate(text, n)) if (c.accepted) out.push(this.movies[c.movie].id);
    return out;
  }

  /** Every hit with the decision and its reason (for tests and `feeder match --explain`). */
  explain(text: string): MatchCandidate[] {
    return this.evaluate(text, this.automaton.scan(text));
  }

  private evaluate(text: string, n: number): MatchCandidate[] {
    const a = this.automaton;
    const cands: MatchCandidate[] = [];
    let ctx: Context | undefined;
    for (let i = 0; i < n; i++) {
      const f = this.forms[a.hitKey[i]];
      const [start, end] = a.spanOf(i);
      const c: MatchCandidate = {
        movie: f.movie,
        form: this.keys[a.hitKey[i]],
        level: f.level,
        start,
        end,
        accepted: false,
        why: '',
      };
      if (f.level === 0 && text[start - 1] !== '@') {
        c.accepted = true;
        c.why = 'distinctive';
      } else {
        ctx ??= new Context(text);
        const d = accept(ctx, f, start, end, this.movies[f.movie]);
        c.accepted = d.ok;
        c.why = d.why;
        c.weak = d.weak;
        c.indirect = d.indirect || d.weak;
        c.hashtag = d.hashtag;
      }
      cands.push(c);
    }
    // movie words in a tweet about one clear movie ("Saw Rush at the cinema") say nothing about the others
    // ...unless the title stands in a list with another one ("Gravity and #ManOfSteel", "Up or Toy Story 3")
    if (cands.some((c) => c.accepted && !c.indirect)) {
      for (const c of cands) {
        if (c.accepted && c.weak && cands.some((o) => o.accepted && o !== c && listed(text, c, o))) continue;
        if (c.accepted && c.weak && !cands.some((o) => o.accepted && !o.indirect && o.movie === c.movie)) {
          c.accepted = false;
          c.why += ', but the movie words belong to another title';
        }
      }
    }
    // "Saw Rush at the cinema": a watch verb right before another title is the verb
    for (const c of cands) {
      if (!c.accepted || c.level === 0 || !WATCH_VERBS.has(c.form)) continue;
      const after = text.slice(c.end).match(/^\W*/)![0].length + c.end;
      if (cands.some((o) => o !== c && o.accepted && o.start === after)) {
        c.accepted = false;
        c.why = 'a watch verb before another title';
      }
    }
    // "Iron Man 3" is not also "Iron Man": drop accepted hits inside a longer accepted hit of another movie
    for (const c of cands) {
      if (!c.accepted) continue;
      for (const o of cands) {
        if (o === c || !o.accepted || o.movie === c.movie) continue;
        // "#Epic movie": a hashtag marks where the title ends
        if (c.hashtag && o.start === c.start) continue;
        if (o.start <= c.start && o.end >= c.end && o.end - o.start > c.end - c.start) {
          c.accepted = false;
          c.why = `inside "${text.slice(o.start, o.end)}"`;
          break;
        }
      }
    }
    // one entry per movie, in order of first mention
    cands.sort((x, y) => x.start - y.start);
    const seen = new Set<number>();
    for (const c of cands) {
      if (!c.accepted) continue;
      if (seen.has(c.movie)) c.accepted = false;
      else seen.add(c.movie);
    }
    return cands;
  }
}

const LIST_GAP = /^[\s#"'“”]*(,|&|\+|>|<|\/|and|or|vs\.?|versus|then)?[\s#"'“”]*$/i;

/** Whether two hits stand next to each other in a list of titles. */
function listed(text: string, a: { start: number; end: number }, b: { start: number; end: number }): boolean {
  const gap =
    a.end <= b.start ? text.slice(a.end, b.start) : b.end <= a.start ? text.slice(b.end, a.start) : null;
  return gap !== null && gap.length <= 12 && LIST_GAP.test(gap);
}

function isMentionOf(text: string, start: number, f: Form): boolean {
  return text[start - 1] === '@' && !f.concat;
}

/** Folded word lists a name is written as, each with whether it is derived. */
function variants(name: string): Array<[string[], boolean]> {
  const out: Array<[string[], boolean]> = [];
  const seen = new Set<string>();
  const push = (w: string[], derived: boolean) => {
    const k = w.join(' ');
    if (w.length === 0 || seen.has(k)) return;
    seen.add(k);
    out.push([w, derived]);
  };
  const bases: string[][] = [foldWords(name)];
  // "Schindler's List" is also typed "Schindlers List"
  if (/['’]/.test(name)) bases.push(foldWords(name.replace(/['’]/g, '')));
  // "Fast & Furious" is also "Fast and Furious"
  if (name.includes('&')) bases.push(foldWords(name.replace(/&/g, ' and ')));
  bases.forEach((w, i) => {
    push(w, i > 0);
  });
  for (const w of bases) {
    // "The Dark Knight" is also "Dark Knight"
    if (w.length >= 3 && (w[0] === 'the' || w[0] === 'a' || w[0] === 'an')) push(w.slice(1), true);
    // "Iron Man 2" is also "Iron Man II"
    const last = w[w.length - 1];
    if (w.length >= 2 && ROMAN[last]) push([...w.slice(0, -1), ROMAN[last]], true);
  }
  return out;
}

export function levelOf(words: string[]): Level {
  if (words.length === 1) {
    const w = words[0];
    if (ALWAYS_AMBIGUOUS.has(w) || COMMON_WORDS.has(w) || STOPWORDS.has(w) || isNumber(w) || w.length <= 3) {
      return 2;
    }
    return 1;
  }
  const content = words.filter((w) => !STOPWORDS.has(w));
  if (content.length === 0) return 2;
  // "Toy Story 3", "World War Z": a sequel number or letter after two words
  const lastWord = words[words.length - 1];
  if (content.length >= 3 && (isNumber(lastWord) || lastWord.length === 1)) return 0;
  if (content.some((w) => !COMMON_WORDS.has(w) && !ALWAYS_AMBIGUOUS.has(w) && w.length > 2)) return 0;
  return content.length === 1 ? 2 : 1;
}

/** What a tweet looks like around a hit; built lazily, once per tweet. */
class Context {
  readonly tokens: Token[];
  /** most words capitalized (Title Case Everything) or ALL CAPS: capitalization says nothing */
  readonly shouty: boolean;

  /** indexes of the tokens that are movie words ("box office" counts at "box") */
  readonly movieWords: number[] = [];

  constructor(readonly text: string) {
    this.tokens = tokenize(text);
    for (let i = 0; i < this.tokens.length; i++) if (this.isMovieWordAt(i)) this.movieWords.push(i);
    let letters = 0;
    let caps = 0;
    for (const t of this.tokens) {
      const ch = text[t.s];
      if (ch >= '0' && ch <= '9') continue;
      letters++;
      if (ch !== ch.toLowerCase()) caps++;
    }
    this.shouty = letters >= 4 && caps / letters >= 0.7;
  }

  /** indexes [first, last] of the tokens of a span */
  range(start: number, end: number): [number, number] {
    let first = -1;
    let last = -1;
    for (let i = 0; i < this.tokens.length; i++) {
      const t = this.tokens[i];
      if (t.s >= start && t.e <= end) {
        if (first === -1) first = i;
        last = i;
      } else if (t.s >= end) break;
    }
    return [first, last];
  }

  isMovieWordAt(i: number): boolean {
    const t = this.tokens[i];
    if (!t) return false;
    if (MOVIE_WORDS.has(t.w)) return true;
    return t.w === 'box' && this.tokens[i + 1]?.w === 'office';
  }
}

function isUpper(text: string, t: Token | undefined): boolean {
  if (!t) return false;
  const ch = text[t.s];
  return ch !== ch.toLowerCase();
}

/** capitalized and not a function word ("Will" in "with Will Smith" is checked with isUpper) */
function capitalized(text: string, t: Token | undefined): boolean {
  return isUpper(text, t) && !STOPWORDS.has(t!.w);
}

interface Decision {
  ok: boolean;
  why: string;
  /** accepted only because movie words appear somewhere in the tweet */
  weak?: boolean;
  /** accepted on movie words elsewhere, but capitalized mid-sentence: kept, yet no evidence against others */
  indirect?: boolean;
  hashtag?: boolean;
}

function accept(ctx: Context, f: Form, start: number, end: number, movie: CatalogMovie): Decision {
  const { text, tokens } = ctx;
  const [first, last] = ctx.range(start, end);
  if (first === -1) return { ok: false, why: 'no words' };
  const before = text[start - 1];
  if (before === '@') return f.concat ? { ok: true, why: 'handle' } : { ok: false, why: 'a user handle' };
  // "#Epic movie": the hashtag is the title, not "Epic Movie"
  if (before === '#' && first === last) return { ok: true, why: 'hashtag', hashtag: true };
  if (QUOTES.has(before) && QUOTES.has(text[end])) return { ok: true, why: 'quoted' };
  if (f.level === 0) return { ok: true, why: 'distinctive' };

  const span = tokens.slice(first, last + 1);
  const next = tokens[last + 1];
  const next2 = tokens[last + 2];
  const gapAfter = next ? text.slice(end, next.s) : '';
  const brokenAfter = SENTENCE_BREAK.test(gapAfter);
  if (next && /^(19|20)\d\d$/.test(next.w) && (!movie.year || Math.abs(Number(next.w) - movie.year) <= 1)) {
    return { ok: true, why: 'year' };
  }
  // "Jobs starring Ashton Kutcher", "Big with Tom Hanks", "Signs by M. Night Shyamalan"
  if (
    next &&
    !brokenAfter &&
    (next.w === 'with' || next.w === 'starring' || next.w === 'by') &&
    isUpper(text, next2) &&
    isUpper(text, tokens[last + 3]) &&
    !ctx.shouty
  ) {
    return { ok: true, why: `${next.w} <cast name>` };
  }

  // the words around the title
  let p = first - 1;
  while (p >= 0 && SKIPPABLE_BEFORE.has(tokens[p].w)) p--;
  const prevTok = tokens[p];
  const brokenBefore = !prevTok || SENTENCE_BREAK.test(text.slice(prevTok.e, start));
  const watchBefore = !brokenBefore && WATCH_VERBS.has(prevTok.w);
  const movieBefore = !brokenBefore && MOVIE_WORDS.has(prevTok.w);
  // "the movie Her" (not "a movie made me")
  const theMovieBefore =
    movieBefore && (prevTok.w === 'movie' || prevTok.w === 'film') && tokens[p - 1]?.w === 'the';
  const adjAfter = !!next && !brokenAfter && MOVIE_WORDS.has(next.w);
  const strongAfter =
    !!next &&
    !brokenAfter &&
    (STRONG_AFTER.has(next.w) ||
      (next.w === 'the' && (next2?.w === 'movie' || next2?.w === 'film')) ||
      ((next.w === 'in' || next.w === 'at' || next.w === 'on') && !!next2 && VENUE.has(next2.w)) ||
      (next.w === 'box' && next2?.w === 'office'));
  if (strongAfter) return { ok: true, why: 'trailer/premiere/… after' };
  // movie words elsewhere; the word right after a title ("epic movie night") is not counted: adjectives do that
  let elsewhere = 0;
  for (const i of ctx.movieWords) {
    if (i >= first && i <= last) continue;
    if (i === last + 1 && (next.w === 'movie' || next.w === 'film' || next.w === 'movies')) continue;
    elsewhere++;
  }

  // capitalization: at a sentence start it says nothing about the first word
  const firstPrev = tokens[first - 1];
  const sentenceStart =
    !firstPrev ||
    SENTENCE_BREAK.test(text.slice(firstPrev.e, start)) ||
    tokens.slice(0, first).every((t) => text[t.s - 1] === '@' || t.w === 'rt');
  const content = span.filter((t) => !STOPWORDS.has(t.w));
  const checked = (content.length ? content : span).filter((t) => !isNumber(t.w));
  let allCap = checked.length > 0;
  for (const t of checked) if (!isUpper(text, t)) allCap = false;
  let capWords = 0;
  for (let i = sentenceStart ? 1 : 0; i < span.length; i++) if (isUpper(text, span[i])) capWords++;
  const anyUpper = text.slice(start, end) !== text.slice(start, end).toLowerCase();
  let kase: 'cap' | 'start' | 'lower' | 'unknown';
  if (ctx.shouty) kase = 'unknown';
  // a capitalized phrase of two content words ("Mean Girls") is evidence even at a sentence start
  else if (allCap) kase = sentenceStart && capWords < 2 && content.length < 2 ? 'start' : 'cap';
  else kase = anyUpper && span.length === 1 ? 'cap' : 'lower';

  // "Miley Cyrus", "Steve Jobs", "Alexander Payne": one capitalized word of a longer name
  if (span.length === 1 && kase !== 'lower' && kase !== 'unknown') {
    const prevWord = tokens[first - 1];
    // names are separated by spaces only ("Cuarón's Gravity", "Rush, Chris" are not names)
    const nameBefore =
      !!prevWord &&
      /^\s+$/.test(text.slice(prevWord.e, start)) &&
      capitalized(text, prevWord) &&
      !WATCH_VERBS.has(prevWord.w) &&
      !MOVIE_WORDS.has(prevWord.w) &&
      text[prevWord.s - 1] !== '#';
    const nameAfter = !!next && /^\s+$/.test(gapAfter) && capitalized(text, next) && !MOVIE_WORDS.has(next.w);
    if (nameBefore || nameAfter) return { ok: false, why: 'part of a longer name' };
  }

  const numeric = span.length === 1 && isNumber(span[0].w);
  if (numeric) {
    return watchBefore || movieBefore || adjAfter
      ? { ok: true, why: 'number next to a movie word' }
      : { ok: false, why: 'a number without movie context' };
  }
  const functionWords = span.every((t) => STOPWORDS.has(t.w));
  const near = watchBefore || movieBefore || adjAfter;

  if (kase === 'lower') {
    if (functionWords) return { ok: false, why: 'lowercase function word' };
    if (theMovieBefore) return { ok: true, why: '"the movie" before' };
    if (f.level === 1 && (adjAfter || watchBefore || elsewhere > 0)) {
      return { ok: true, why: 'lowercase with movie context', weak: true };
    }
    if (watchBefore && elsewhere > 0) return { ok: true, why: 'lowercase, watch word and movie words' };
    // lowercase typers start tweets with titles; mid-sentence a lowercase everyday word is that word
    if (elsewhere >= 2 && sentenceStart)
      return { ok: true, why: 'lowercase, several movie words', weak: true };
    return { ok: false, why: 'lowercase without strong movie context' };
  }
  if (kase === 'cap') {
    if (f.level === 1) return { ok: true, why: 'capitalized' };
    if (span.length > 1 && capWords >= 2) return { ok: true, why: 'capitalized phrase' };
    if (near) return { ok: true, why: 'capitalized, movie word next to it' };
    if (elsewhere > 0) return { ok: true, why: 'capitalized, movie words in tweet', indirect: true };
    return { ok: false, why: 'capitalized but no movie context' };
  }
  // sentence start or ALL CAPS: capitalization says nothing
  if (f.level === 1) return { ok: true, why: `rare word (${kase})` };
  const adjective = !!next && (next.w === 'movie' || next.w === 'film' || next.w === 'movies');
  if ((watchBefore || movieBefore || (adjAfter && !adjective)) && !functionWords) {
    return { ok: true, why: 'movie word next to it' };
  }
  if (watchBefore) return { ok: true, why: 'watch word before' };
  if (elsewhere > 0 && !functionWords) return { ok: true, why: 'movie words in tweet', weak: true };
  return { ok: false, why: 'sentence start without movie context' };
}
