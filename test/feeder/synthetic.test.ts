// The synthetic source's popularity: Zipf-like over US gross with the whole catalog in use, a few movies
// trending for minutes, and therefore a past-hour ranking whose top moves (with a controllable clock).
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { CatalogMovie } from '../../protocol/redis-contract.ts';
import { WindowCounter } from '../../roles/feeder/counter.ts';
import {
  PopularityModel,
  popularityOrder,
  TREND_MIN_MS,
  TREND_SLOTS,
  usGross,
  ZIPF_S,
} from '../../roles/feeder/sources/popularity.ts';
import { TweetGenerator } from '../../roles/feeder/sources/synthetic.ts';
import { REAL_CATALOG, TEST_CATALOG } from './helpers.ts';

const catalog: CatalogMovie[] = JSON.parse(fs.readFileSync(REAL_CATALOG, 'utf8'));
const T0 = Date.parse('2026-11-22T10:00:00Z');

describe('synthetic popularity', () => {
  it('knows the US gross of nearly every movie of the real catalog, and orders by it', () => {
    const known = catalog.filter((m) => usGross(m.title) !== undefined);
    expect(known.length / catalog.length).toBeGreaterThan(0.95);
    const order = popularityOrder(catalog, 1).map((i) => catalog[i].title);
    expect(order.slice(0, 3)).toEqual(['Avatar', 'Titanic', 'The Dark Knight']);
    // 2013 releases the table predates have figures too
    expect(usGross('Gravity')).toBeGreaterThan(100e6);
    // movies without a figure come last, in an order fixed by the seed
    const unknown = catalog.filter((m) => usGross(m.title) === undefined).length;
    expect(order.slice(-unknown).every((t) => usGross(t) === undefined)).toBe(true);
    expect(popularityOrder(catalog, 1)).toEqual(popularityOrder(catalog, 1));
    expect(popularityOrder(catalog, 1).slice(-unknown)).not.toEqual(
      popularityOrder(catalog, 2).slice(-unknown),
    );
  });

  it('draws movies Zipf-like: the best known most, every movie sometimes', () => {
    const model = new PopularityModel(catalog, 5, () => T0);
    const trending = new Set(model.trends().map((t) => t.movie));
    const n = 100_000;
    const counts = new Map<number, number>();
    let fromTrends = 0;
    for (let i = 0; i < n; i++) {
      const m = model.pick(Math.random());
      if (trending.has(m)) fromTrends++;
      else counts.set(m, (counts.get(m) ?? 0) + 1);
    }
    const base = n - fromTrends;
    const byRank = model.order.filter((i) => !trending.has(i)).map((i) => counts.get(i) ?? 0);
    // 1/(r+1)^s: the first movie 2^s times the second, 10^s times the tenth; the first ten get their share
    // (loose bounds: sampling noise)
    expect(byRank[0] / byRank[1]).toBeGreaterThan(0.75 * 2 ** ZIPF_S);
    expect(byRank[0] / byRank[9]).toBeGreaterThan(0.6 * 10 ** ZIPF_S);
    const weight = (r: number) => 1 / (r + 1) ** ZIPF_S;
    const all = byRank.reduce((a, _, r) => a + weight(r), 0);
    const expected = byRank.slice(0, 10).reduce((a, _, r) => a + weight(r), 0) / all;
    const top10 = byRank.slice(0, 10).reduce((a, b) => a + b, 0) / base;
    expect(top10).toBeGreaterThan(0.8 * expected);
    expect(top10).toBeLessThan(1.2 * expected);
    // the long tail is used: most of the catalog gets tweets
    expect(counts.size).toBeGreaterThan(0.75 * catalog.length);
  });

  it('has movies trending for minutes, and the past-hour ranking top changes', () => {
    let now = T0;
    const gen = new TweetGenerator(catalog, 11, 0.3, () => now);
    const counter = new WindowCounter(() => now);
    const order = gen.popularity.order.map((i) => catalog[i].id);
    const baseTop20 = new Set(order.slice(0, 20));
    let top3Changes = 0;
    let lastTop3 = '';
    /** movie → minutes it was trending at */
    const trendMinutes = new Map<number, number[]>();
    let outsiderInTop3 = false;
    // 40 minutes at 40 tweets/s, looked at every minute
    for (let minute = 0; minute < 40; minute++) {
      const perMinute = new Map<number, number>();
      for (let s = 0; s < 60; s++) {
        for (let i = 0; i < 40; i++) {
          const t = gen.next();
          if (t.about.length) counter.add(t.about);
          for (const id of t.about) perMinute.set(id, (perMinute.get(id) ?? 0) + 1);
        }
        now += 1000;
      }
      const trends = gen.popularity.trends();
      expect(trends.length).toBeLessThanOrEqual(TREND_SLOTS);
      for (const t of trends) trendMinutes.set(t.movie, [...(trendMinutes.get(t.movie) ?? []), minute]);
      const minuteTop3 = [...perMinute].sort((a, b) => b[1] - a[1]).slice(0, 3);
      if (minuteTop3.some(([id]) => !baseTop20.has(id))) outsiderInTop3 = true;
      const top3 = counter
        .top(3)
        .map((t) => t.id)
        .join(',');
      if (minute > 0 && top3 !== lastTop3) top3Changes++;
      lastTop3 = top3;
    }
    // several movies trended, each for minutes (a trend lasts at least TREND_MIN_MS: two looks or more,
    // except where the 40 minutes cut it)
    expect(trendMinutes.size).toBeGreaterThanOrEqual(4);
    for (const minutes of trendMinutes.values()) {
      const cut = minutes.includes(0) || minutes.includes(39);
      if (!cut) expect(minutes.length).toBeGreaterThanOrEqual(Math.floor(TREND_MIN_MS / 60_000) - 1);
    }
    expect(outsiderInTop3).toBe(true);
    // the ranking's top three (members or order) changed at least every eight minutes on average
    expect(top3Changes).toBeGreaterThanOrEqual(5);
  });

  it('is deterministic for a seed and a clock, and works for a catalog without known movies', () => {
    const texts = (seed: number) => {
      let now = T0;
      const g = new TweetGenerator(catalog, seed, 0.3, () => now);
      return Array.from({ length: 300 }, () => {
        now += 5000;
        return g.next().obj.data.text;
      });
    };
    expect(texts(3)).toEqual(texts(3));
    expect(texts(3)).not.toEqual(texts(4));

    const unknown = (JSON.parse(fs.readFileSync(TEST_CATALOG, 'utf8')) as CatalogMovie[]).map((m, i) => ({
      ...m,
      title: `Unheard Of Film ${i}`,
    }));
    const model = new PopularityModel(unknown, 9, () => T0);
    const seen = new Set(Array.from({ length: 2000 }, () => model.pick(Math.random())));
    expect(seen.size).toBe(unknown.length);
  });
});
