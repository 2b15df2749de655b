// How often the synthetic source talks about each movie. Real tweet volume is very uneven: a few well-known
// titles get most of it (Zipf-like), and a handful of movies trend for minutes at a time (a trailer, an
// opening weekend) and fade. Spreading tweets evenly over a 3,000-movie catalog gave a past-hour ranking that
// never moved; this gives one whose top changes within minutes while every movie still gets some tweets.
//
// Base weight of the movie at popularity rank r (0 = most popular): 1 / (r + 1)^ZIPF_S. The order is the
// movie's US gross (data/popularity.json, from the vega table the catalog comes from) when known, highest
// first; movies without a figure follow in an order fixed by the seed. Trends: TREND_SLOTS at once, each a
// movie whose weight gets a sin² bump of TREND_MIN_MS..TREND_MAX_MS and a peak of TREND_PEAK_MIN..MAX times
// the top movie's weight, then a short pause and the next one. Everything follows from the seed and the
// clock, so the same seed at the same times gives the same tweets.
import type { CatalogMovie } from '../../../protocol/redis-contract.ts';
import popularity from '../../../data/popularity.json' with { type: 'json' };

export const ZIPF_S = 0.8;
export const TREND_SLOTS = 3;
export const TREND_MIN_MS = 3 * 60_000;
export const TREND_MAX_MS = 12 * 60_000;
const TREND_GAP_MAX_MS = 90_000;
const TREND_PEAK_MIN = 1;
const TREND_PEAK_MAX = 4;
/** trend weights are recomputed at most this often (they move over minutes) */
const TREND_STEP_MS = 1000;

const GROSS: Record<string, number> = popularity.us_gross;

/** A tiny deterministic PRNG (mulberry32): the same seed gives the same numbers. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The key of data/popularity.json (scripts/make-catalog.mjs folds titles the same way). */
export function popularityKey(title: string): string {
  return title
    .normalize('NFD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/['’]/g, '')
    .replace(/[^a-z0-9]+/g, ' ')
    .trim();
}

/** US gross of a title, when data/popularity.json has it. */
export function usGross(title: string): number | undefined {
  return GROSS[popularityKey(title)];
}

/** Catalog indexes, most popular first: by US gross, then the rest in an order fixed by the seed. */
export function popularityOrder(catalog: readonly CatalogMovie[], seed: number): number[] {
  const random = rng(seed ^ 0x5eed);
  const keyed = catalog.map((m, i) => ({ i, gross: usGross(m.title) ?? -1, tie: random() }));
  keyed.sort((a, b) => b.gross - a.gross || a.tie - b.tie);
  return keyed.map((k) => k.i);
}

interface Trend {
  /** catalog index */
  movie: number;
  start: number;
  ms: number;
  peak: number;
}

/** Draws catalog indexes: Zipf over the popularity order, plus the trends of the moment. */
export class PopularityModel {
  /** catalog index of each rank */
  readonly order: number[];
  /** cumulative base weights by rank */
  private readonly cdf: Float64Array;
  private readonly total: number;
  private readonly slots: Array<{ random: () => number; trend: Trend }> = [];
  private boosts: Array<{ movie: number; weight: number }> = [];
  private boostTotal = 0;
  private boostsAt = Number.NEGATIVE_INFINITY;

  constructor(
    catalog: readonly CatalogMovie[],
    seed: number,
    private readonly now: () => number,
  ) {
    this.order = popularityOrder(catalog, seed);
    this.cdf = new Float64Array(catalog.length);
    let sum = 0;
    for (let r = 0; r < catalog.length; r++) {
      sum += 1 / (r + 1) ** ZIPF_S;
      this.cdf[r] = sum;
    }
    this.total = sum;
    // staggered: when the source starts, the slots' first trends are at different stages
    const t0 = now();
    for (let j = 0; j < TREND_SLOTS; j++) {
      const random = rng((seed + 7919 * (j + 1)) >>> 0);
      const trend = this.newTrend(random, 0);
      trend.start = t0 - (trend.ms * j) / TREND_SLOTS;
      this.slots.push({ random, trend });
    }
  }

  private newTrend(random: () => number, start: number): Trend {
    const n = this.order.length;
    // skewed toward known titles, but any movie can trend; not one that is trending in another slot
    let movie = this.order[Math.min(n - 1, Math.floor(n * random() ** 3))];
    for (let tries = 0; tries < 5 && this.slots.some((s) => s.trend.movie === movie); tries++) {
      movie = this.order[Math.min(n - 1, Math.floor(n * random() ** 3))];
    }
    return {
      movie,
      start,
      ms: TREND_MIN_MS + random() * (TREND_MAX_MS - TREND_MIN_MS),
      peak: TREND_PEAK_MIN * (TREND_PEAK_MAX / TREND_PEAK_MIN) ** random(),
    };
  }

  /** The trending movies now and their extra weight (in units of the top movie's base weight). */
  trends(): Array<{ movie: number; weight: number }> {
    const t = this.now();
    if (Math.abs(t - this.boostsAt) < TREND_STEP_MS) return this.boosts;
    this.boostsAt = t;
    const boosts: Array<{ movie: number; weight: number }> = [];
    for (const slot of this.slots) {
      // the clock may jump (tests, a paused process): skip the trends that are over
      while (t > slot.trend.start + slot.trend.ms) {
        const gap = slot.random() * TREND_GAP_MAX_MS;
        slot.trend = this.newTrend(slot.random, slot.trend.start + slot.trend.ms + gap);
      }
      const { movie, start, ms, peak } = slot.trend;
      if (t < start) continue;
      const weight = peak * Math.sin((Math.PI * (t - start)) / ms) ** 2;
      if (weight > 0) boosts.push({ movie, weight });
    }
    this.boosts = boosts;
    this.boostTotal = boosts.reduce((s, b) => s + b.weight, 0);
    return boosts;
  }

  /** One catalog index, drawn with `u` uniform in [0, 1). */
  pick(u: number): number {
    const boosts = this.trends();
    let x = u * (this.total + this.boostTotal);
    if (x >= this.total) {
      x -= this.total;
      for (const b of boosts) {
        if (x < b.weight) return b.movie;
        x -= b.weight;
      }
      return boosts[boosts.length - 1].movie;
    }
    // first rank whose cumulative weight exceeds x
    let lo = 0;
    let hi = this.cdf.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.cdf[mid] > x) hi = mid;
      else lo = mid + 1;
    }
    return this.order[lo];
  }
}
