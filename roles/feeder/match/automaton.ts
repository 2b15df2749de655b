// Aho-Corasick automaton over folded text (see fold.ts). Keys are folded phrases framed by separators
// (" dark knight "), so every hit falls on word boundaries. Transitions are a dense table (state × 37
// classes), one array read per input character; scanning allocates nothing.
import * as fold from './fold.ts';

// local bindings: an imported binding costs a getter call per use under tsx, and these run per character
const { ALPHABET, CLASS, DOT, isPossessive, SEP, SKIP } = fold;

export class Automaton {
  /** delta[state * ALPHABET + class] → next state (failure transitions folded in) */
  private readonly delta: Int32Array;
  /** key index that ends at this state, or -1 */
  private readonly out: Int32Array;
  /** next state on the failure chain that has an output, or -1 */
  private readonly outLink: Int32Array;
  /** folded length of each key, separators included */
  readonly keyLength: Int32Array;
  readonly states: number;

  // scan results, reused across calls
  hitKey = new Int32Array(64);
  hitEnd = new Int32Array(64);
  hits = 0;
  /** original index of each folded character of the last scan (-1 for the leading virtual separator) */
  pos = new Int32Array(1024);
  /** the class table, held locally: an imported binding costs a getter call per character under tsx */
  private readonly cls: Uint8Array = CLASS;

  /** keys: lowercase a-z0-9 words separated by single spaces (already folded), unique */
  constructor(keys: string[]) {
    const children: number[] = new Array(ALPHABET).fill(-1);
    const outList: number[] = [-1];
    let n = 1;
    this.keyLength = new Int32Array(keys.length);
    keys.forEach((key, ki) => {
      const framed = ` ${key} `;
      this.keyLength[ki] = framed.length;
      let s = 0;
      for (let i = 0; i < framed.length; i++) {
        const k = CLASS[framed.charCodeAt(i)];
        const at = s * ALPHABET + k;
        let next = children[at];
        if (next === -1) {
          next = n++;
          children[at] = next;
          for (let j = 0; j < ALPHABET; j++) children.push(-1);
          outList.push(-1);
        }
        s = next;
      }
      if (outList[s] !== -1) throw new Error(`duplicate automaton key "${key}"`);
      outList[s] = ki;
    });
    this.states = n;
    const delta = new Int32Array(n * ALPHABET);
    const fail = new Int32Array(n);
    const out = Int32Array.from(outList);
    const outLink = new Int32Array(n).fill(-1);
    // breadth-first: complete the goto function with failure transitions
    const queue = new Int32Array(n);
    let head = 0;
    let tail = 0;
    for (let k = 0; k < ALPHABET; k++) {
      const c = children[k];
      if (c === -1) delta[k] = 0;
      else {
        delta[k] = c;
        fail[c] = 0;
        queue[tail++] = c;
      }
    }
    while (head < tail) {
      const s = queue[head++];
      const f = fail[s];
      outLink[s] = out[f] !== -1 ? f : outLink[f];
      for (let k = 0; k < ALPHABET; k++) {
        const c = children[s * ALPHABET + k];
        if (c === -1) delta[s * ALPHABET + k] = delta[f * ALPHABET + k];
        else {
          delta[s * ALPHABET + k] = c;
          fail[c] = delta[f * ALPHABET + k];
          queue[tail++] = c;
        }
      }
    }
    this.delta = delta;
    this.out = out;
    this.outLink = outLink;
  }

  /** Scan a text; hits land in hitKey/hitEnd[0, hits) (hitEnd: folded index of the key's last separator). */
  scan(text: string): number {
    const len = text.length;
    if (this.pos.length < len + 2) this.pos = new Int32Array(len * 2 + 2);
    const pos = this.pos;
    const delta = this.delta;
    const out = this.out;
    const outLink = this.outLink;
    const cls = this.cls;
    this.hits = 0;
    // a virtual separator before the text
    let state = delta[SEP];
    pos[0] = -1;
    let f = 1;
    let lastSep = true;
    for (let i = 0; i <= len; i++) {
      let k: number;
      if (i === len) {
        if (lastSep) break;
        k = SEP; // a virtual separator after the text
      } else {
        k = cls[text.charCodeAt(i)];
        if (k === SKIP) {
          // a possessive "'s" separates ("Gravity's" → "gravity "); other apostrophes vanish ("don't")
          if (lastSep || !isPossessive(text, i)) continue;
          i++;
          k = SEP;
        }
        if (k === DOT) {
          // "E.T." folds to "et"; "end.Next" splits only where a letter does not follow
          const next = i + 1 < len ? cls[text.charCodeAt(i + 1)] : SEP;
          if (!lastSep && next !== SEP && next < ALPHABET) continue;
          k = SEP;
        }
        if (k === SEP) {
          if (lastSep) continue;
          lastSep = true;
        } else lastSep = false;
      }
      pos[f] = i;
      state = delta[state * ALPHABET + k];
      if (k === SEP) {
        // keys end with a separator: outputs can only appear here
        let o = out[state] !== -1 ? state : outLink[state];
        while (o !== -1) {
          this.pushHit(out[o], f);
          o = outLink[o];
        }
      }
      f++;
    }
    return this.hits;
  }

  private pushHit(key: number, end: number): void {
    if (this.hits === this.hitKey.length) {
      const k = new Int32Array(this.hits * 2);
      k.set(this.hitKey);
      this.hitKey = k;
      const e = new Int32Array(this.hits * 2);
      e.set(this.hitEnd);
      this.hitEnd = e;
    }
    this.hitKey[this.hits] = key;
    this.hitEnd[this.hits] = end;
    this.hits++;
  }

  /** Original span [start, end) of hit i of the last scan, in the scanned text's indexes. */
  spanOf(i: number): [number, number] {
    const endF = this.hitEnd[i];
    const startF = endF - this.keyLength[this.hitKey[i]] + 2;
    return [this.pos[startF], this.pos[endF - 1] + 1];
  }
}
