// Aho-Corasick automaton over folded text (see fold.ts). Keys are folded phrases framed by separators
// (" dark knight "), so every hit falls on word boundaries. Scanning allocates nothing. Transitions: the
// root and every state with two or more children have a dense row (37 classes, failures folded in); the
// others (four states in five: chains inside one title) keep their one child and follow their failure link
// otherwise. A dense row for all 106k states of the real catalog was 16 MB, and its cache misses made the
// scan several times slower inside the busy feeder than on its own.
import * as fold from './fold.ts';

// local bindings: an imported binding costs a getter call per use under tsx, and these run per character
const { ALPHABET, CLASS, DOT, isPossessive, SEP, SKIP } = fold;

export class Automaton {
  /** delta[row * ALPHABET + class] → next state (failure transitions folded in), for states with a row */
  private readonly delta: Int32Array;
  /** a state's row in delta, or -1: then its one child (class oneClass, state oneChild) or its failure */
  private readonly row: Int32Array;
  private readonly oneClass: Uint8Array;
  private readonly oneChild: Int32Array;
  private readonly fail: Int32Array;
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
    // keep dense rows only where a state branches (and at the root, where most characters start)
    const row = new Int32Array(n).fill(-1);
    const oneClass = new Uint8Array(n).fill(255);
    const oneChild = new Int32Array(n).fill(-1);
    let rows = 0;
    for (let st = 0; st < n; st++) {
      let count = 0;
      for (let k = 0; k < ALPHABET; k++) {
        const c = children[st * ALPHABET + k];
        if (c === -1) continue;
        count++;
        oneClass[st] = k;
        oneChild[st] = c;
      }
      if (st === 0 || count >= 2) row[st] = rows++;
    }
    const compact = new Int32Array(rows * ALPHABET);
    for (let st = 0; st < n; st++) {
      if (row[st] !== -1) compact.set(delta.subarray(st * ALPHABET, (st + 1) * ALPHABET), row[st] * ALPHABET);
    }
    this.delta = compact;
    this.row = row;
    this.oneClass = oneClass;
    this.oneChild = oneChild;
    this.fail = fail;
    this.out = out;
    this.outLink = outLink;
  }

  /** Scan a text; hits land in hitKey/hitEnd[0, hits) (hitEnd: folded index of the key's last separator). */
  scan(text: string): number {
    const len = text.length;
    if (this.pos.length < len + 2) this.pos = new Int32Array(len * 2 + 2);
    const pos = this.pos;
    const delta = this.delta;
    const row = this.row;
    const oneClass = this.oneClass;
    const oneChild = this.oneChild;
    const fail = this.fail;
    const out = this.out;
    const outLink = this.outLink;
    const cls = this.cls;
    this.hits = 0;
    // a virtual separator before the text
    let state = delta[row[0] * ALPHABET + SEP];
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
      // a row, else the one child, else the failure link (the root has a row: this ends)
      for (;;) {
        const r = row[state];
        if (r !== -1) {
          state = delta[r * ALPHABET + k];
          break;
        }
        if (oneClass[state] === k) {
          state = oneChild[state];
          break;
        }
        state = fail[state];
      }
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
