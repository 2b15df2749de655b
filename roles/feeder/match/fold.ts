// Text folding shared by titles and tweets, so both fold the same way: case and accents removed, letters
// and digits kept, apostrophes dropped ("Schindler's" = "Schindlers"), dots inside words dropped ("E.T." =
// "ET"), everything else a word separator. One table lookup per UTF-16 unit keeps the scan fast.

/** Word separator class. Letters a-z are classes 1..26, digits 0-9 are 27..36. */
export const SEP = 0;
export const ALPHABET = 37;
/** Dropped without separating words (apostrophes). */
export const SKIP = 254;
/** A dot: dropped between two letters/digits, a separator elsewhere. */
export const DOT = 253;

export const CLASS = buildClassTable();

function classOfAscii(ch: string): number {
  const c = ch.charCodeAt(0);
  if (c >= 97 && c <= 122) return c - 96;
  if (c >= 48 && c <= 57) return c - 48 + 27;
  return SEP;
}

function buildClassTable(): Uint8Array {
  const t = new Uint8Array(65536); // SEP by default: punctuation, symbols, emoji halves, other scripts
  for (let c = 0; c < 0x3000; c++) {
    if (c >= 0xd800) break;
    const ch = String.fromCharCode(c);
    const base = ch.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase();
    if (base.length === 1) t[c] = classOfAscii(base);
  }
  for (const ch of "'’ʼ`´") t[ch.charCodeAt(0)] = SKIP;
  t['.'.charCodeAt(0)] = DOT;
  t['ß'.charCodeAt(0)] = classOfAscii('s');
  t['æ'.charCodeAt(0)] = classOfAscii('a');
  t['Æ'.charCodeAt(0)] = classOfAscii('a');
  t['ø'.charCodeAt(0)] = classOfAscii('o');
  t['Ø'.charCodeAt(0)] = classOfAscii('o');
  t['œ'.charCodeAt(0)] = classOfAscii('o');
  return t;
}

/** Whether position i (an apostrophe) starts a possessive "'s" that ends a word: it then separates. */
export function isPossessive(text: string, i: number): boolean {
  if (CLASS[text.charCodeAt(i + 1)] !== 19) return false; // 's'
  if (i + 2 >= text.length) return true;
  const k = CLASS[text.charCodeAt(i + 2)];
  return k === SEP || k === DOT;
}

/** The character a letter/digit class stands for. */
export const CLASS_CHAR = ' abcdefghijklmnopqrstuvwxyz0123456789';

const isWordClass = (k: number) => k !== SEP && k < ALPHABET;

/** The folded words of a text (used for titles, aliases and context words). */
export function foldWords(text: string): string[] {
  return tokenizeSlow(text).map((t) => t.w);
}

export interface Token {
  /** folded word */
  w: string;
  /** original span [s, e) */
  s: number;
  e: number;
}

const PLAIN_WORD = /[a-z0-9]+/gi;

/** Words of a tweet with their original spans (for context checks). */
export function tokenize(text: string): Token[] {
  // fast path: plain ASCII text (no apostrophes, dots or accents) tokenizes with a regex
  if (!/[^\x00-\x7f]|['.`]/.test(text)) {
    const out: Token[] = [];
    PLAIN_WORD.lastIndex = 0;
    for (let m = PLAIN_WORD.exec(text); m; m = PLAIN_WORD.exec(text)) {
      out.push({ w: m[0].toLowerCase(), s: m.index, e: m.index + m[0].length });
    }
    return out;
  }
  return tokenizeSlow(text);
}

function tokenizeSlow(text: string): Token[] {
  const out: Token[] = [];
  let cur = '';
  let start = -1;
  let lastEnd = -1;
  for (let i = 0; i < text.length; i++) {
    let k = CLASS[text.charCodeAt(i)];
    if (k === SKIP) {
      // "Gravity's" is "Gravity" followed by a possessive
      if (!cur || !isPossessive(text, i)) continue;
      i++;
      k = SEP;
    }
    if (k === DOT) {
      const next = i + 1 < text.length ? CLASS[text.charCodeAt(i + 1)] : SEP;
      if (cur.length > 0 && isWordClass(next)) continue;
      k = SEP;
    }
    if (k === SEP) {
      if (cur) out.push({ w: cur, s: start, e: lastEnd + 1 });
      cur = '';
    } else {
      if (!cur) start = i;
      cur += CLASS_CHAR[k];
      lastEnd = i;
    }
  }
  if (cur) out.push({ w: cur, s: start, e: lastEnd + 1 });
  return out;
}
