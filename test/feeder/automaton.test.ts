// The Aho-Corasick automaton finds exactly the keys a naive search over the text's folded words finds
// (random keys and texts over a tiny vocabulary, so keys overlap, nest and share prefixes and suffixes).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Automaton } from '../../roles/feeder/match/automaton.ts';
import { foldWords } from '../../roles/feeder/match/fold.ts';

const WORDS = ['a', 'b', 'ab', 'ba', 'abc', 'c9'];
const phrase = fc.array(fc.constantFrom(...WORDS), { minLength: 1, maxLength: 4 }).map((w) => w.join(' '));

describe('automaton', () => {
  it('hits every occurrence of every key on word boundaries, and nothing else', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(phrase, { minLength: 1, maxLength: 12 }),
        fc.array(fc.tuple(fc.constantFrom(...WORDS, 'A', 'Ab'), fc.constantFrom(' ', ', ', '! ', ' #')), {
          maxLength: 25,
        }),
        (keys, parts) => {
          const text = parts.map(([w, sep]) => w + sep).join('');
          const a = new Automaton(keys);
          const n = a.scan(text);
          const got: string[] = [];
          for (let i = 0; i < n; i++) {
            const [s, e] = a.spanOf(i);
            got.push(`${keys[a.hitKey[i]]}@${foldWords(text.slice(0, s)).length}`);
            expect(foldWords(text.slice(s, e)).join(' ')).toBe(keys[a.hitKey[i]]);
          }
          const words = foldWords(text);
          const want: string[] = [];
          const set = new Set(keys);
          for (let i = 0; i < words.length; i++) {
            for (let j = i + 1; j <= words.length; j++) {
              const p = words.slice(i, j).join(' ');
              if (set.has(p)) want.push(`${p}@${i}`);
            }
          }
          expect(got.sort()).toEqual(want.sort());
        },
      ),
      { numRuns: 300 },
    );
  });
});
