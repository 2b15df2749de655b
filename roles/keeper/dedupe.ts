// Drops re-sent copies of log lines before they are archived (issue 16). A role's log sink sends a batch again
// after a failover when no replica had confirmed it (roles/runtime/log-sink.ts), so the same line (same `lid`,
// `<boot>.<seq>`) can reach the stream twice. Per source (role, id, boot) we keep the highest sequence seen and
// a bitmap of the DEDUPE_WINDOW sequences below it: O(1) per line, 2 KiB per source, DEDUPE_SOURCES sources at
// most (the least recently advanced is forgotten). A line older than the window is let through: a rare copy
// archived twice is better than a line lost (the sink holds fewer lines than the window, so a re-send is in it).
// In memory only: a keeper that restarts forgets what it saw (a copy re-sent across that moment is archived
// twice, recognisable by its lid), and each keeper of a group sees only the entries it reads.
import { MAX_HELD_LINES } from '../runtime/log-sink.ts';

/** sequences remembered below the highest per source; larger than what a sink holds plus one batch */
export const DEDUPE_WINDOW = 16_384;
/** sources remembered at most (16 384 bits = 2 KiB each: 8 MiB) */
export const DEDUPE_SOURCES = 4096;
const MAX_BOOT = 64;

if (MAX_HELD_LINES + 1000 >= DEDUPE_WINDOW)
  throw new Error('the dedupe window must exceed what a sink holds');

interface Source {
  high: number;
  bits: Uint32Array;
}

export class LineDedupe {
  private readonly sources = new Map<string, Source>();
  /** copies dropped so far */
  dropped = 0;

  constructor(
    private readonly window = DEDUPE_WINDOW,
    private readonly maxSources = DEDUPE_SOURCES,
  ) {}

  get size(): number {
    return this.sources.size;
  }

  /** True when this line was seen before (drop it); lines without a well-formed lid are never copies. */
  isCopy(role: string, proc: string, lid: string | undefined): boolean {
    if (!lid) return false;
    const dot = lid.lastIndexOf('.');
    if (dot <= 0 || dot > MAX_BOOT) return false;
    const tail = lid.slice(dot + 1);
    if (!/^\d{1,15}$/.test(tail)) return false;
    const seq = Number(tail);
    const key = `${role}\u0000${proc}\u0000${lid.slice(0, dot)}`;
    let s = this.sources.get(key);
    if (!s) {
      s = { high: -1, bits: new Uint32Array(this.window >>> 5) };
      this.sources.set(key, s);
      if (this.sources.size > this.maxSources) this.sources.delete(this.sources.keys().next().value!);
    }
    const w = this.window;
    if (seq > s.high) {
      // clear the slots between the old high and the new one: they now stand for newer sequences
      if (seq - s.high >= w) s.bits.fill(0);
      else for (let q = s.high + 1; q < seq; q++) this.clear(s, q % w);
      s.high = seq;
      this.set(s, seq % w);
      // most recently advanced last: the first in the map is the one forgotten
      this.sources.delete(key);
      this.sources.set(key, s);
      return false;
    }
    if (seq <= s.high - w) return false;
    const slot = seq % w;
    if (s.bits[slot >>> 5]! & (1 << (slot & 31))) {
      this.dropped++;
      return true;
    }
    this.set(s, slot);
    return false;
  }

  private set(s: Source, slot: number): void {
    s.bits[slot >>> 5] = s.bits[slot >>> 5]! | (1 << (slot & 31));
  }

  private clear(s: Source, slot: number): void {
    s.bits[slot >>> 5] = s.bits[slot >>> 5]! & ~(1 << (slot & 31));
  }
}
