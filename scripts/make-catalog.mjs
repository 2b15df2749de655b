#!/usr/bin/env node
// Builds data/movies.json (the real catalog) from the `movies` table of the vega-datasets npm package
// (BSD-3-Clause), plus a few hand-added 2013 releases the dataset predates, and data/popularity.json (US gross
// per folded title, which the synthetic tweet source uses to weight movies). Run: node scripts/make-catalog.mjs
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const src = path.join(root, 'node_modules', 'vega-datasets', 'data', 'movies.json');
const out = path.join(root, 'data', 'movies.json');
const popularityOut = path.join(root, 'data', 'popularity.json');

// The table's accented titles were Latin-1 bytes decoded as Mac Roman ("LÈon" for "Léon"); undo that.
const macRoman = new TextDecoder('macintosh');
const toByte = new Map();
for (let b = 0x80; b <= 0xff; b++) toByte.set(macRoman.decode(Uint8Array.of(b)), b);
function fixMojibake(s) {
  if (!/[^\x00-\x7f]/.test(s)) return s;
  const bytes = [];
  for (const ch of s) {
    const code = ch.charCodeAt(0);
    if (code < 0x80) bytes.push(code);
    else if (toByte.has(ch)) bytes.push(toByte.get(ch));
    else return s; // not mojibake (e.g. "Alien³")
  }
  return Buffer.from(bytes).toString('latin1');
}

// Release years past the dataset's end are two-digit years expanded into the wrong century (2042 → 1942).
function yearOf(date) {
  const m = /(\d{4})\s*$/.exec(date ?? '');
  if (!m) return undefined;
  const y = Number(m[1]);
  return y > 2013 ? y - 100 : y;
}

const fold = (s) =>
  s
    .normalize('NFD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/['’]/g, '')
    .replace(/[^a-z0-9]+/g, ' ')
    .trim();

const rows = JSON.parse(fs.readFileSync(src, 'utf8'));
/** folded title → movie; a remake keeps the title for the newest release */
const byTitle = new Map();
rows.forEach((r, i) => {
  if (r.Title === null || r.Title === undefined || String(r.Title).trim() === '') return;
  const title = fixMojibake(String(r.Title)).replace(/\s+/g, ' ').trim();
  const year = yearOf(r['Release Date']);
  const key = fold(title);
  const prev = byTitle.get(key);
  if (prev && (prev.year ?? 0) >= (year ?? 0)) return;
  byTitle.set(key, { id: i + 1, title, ...(year ? { year } : {}) });
});

// 2013 releases (the year Filmgrain launched) that the dataset predates; ids above the dataset's rows.
const extras = [
  ['Man of Steel', 2013],
  ['Gravity', 2013],
  ['Her', 2013],
  ['Rush', 2013],
  ['Frozen', 2013],
  ['42', 2013],
  ['Epic', 2013],
  ['Jobs', 2013],
  ['Planes', 2013],
  ['Iron Man 3', 2013, ['Iron Man Three']],
  ['The Wolf of Wall Street', 2013],
  ['12 Years a Slave', 2013, ['Twelve Years a Slave']],
  ['Captain Phillips', 2013],
  ['Despicable Me 2', 2013],
  ['Star Trek Into Darkness', 2013],
  ['The Hunger Games: Catching Fire', 2013, ['Catching Fire']],
  ['The Great Gatsby', 2013],
  ['World War Z', 2013],
  ['Pacific Rim', 2013],
  ['Thor: The Dark World', 2013],
  ['The Hobbit: The Desolation of Smaug', 2013, ['Desolation of Smaug']],
  ['American Hustle', 2013],
  ['Dallas Buyers Club', 2013],
  ['Monsters University', 2013],
  ['Fast & Furious 6', 2013, ['Fast 6']],
  ['The Conjuring', 2013],
  ['Now You See Me', 2013],
  ['Elysium', 2013],
  ['Oblivion', 2013],
  ['Prisoners', 2013],
  ['The Heat', 2013],
  ['Blue Jasmine', 2013],
  ['Nebraska', 2013],
  ['Philomena', 2013],
  ['Saving Mr. Banks', 2013],
  ['Anchorman 2: The Legend Continues', 2013, ['Anchorman 2']],
  ['The Lone Ranger', 2013],
  ['After Earth', 2013],
  ['This Is the End', 2013],
  ['Kick-Ass 2', 2013],
];
// Approximate US box office of those 2013 releases, in dollars (rounded public figures, hand-entered).
const extrasGross = {
  'Man of Steel': 291.0e6,
  Gravity: 274.1e6,
  Her: 25.6e6,
  Rush: 26.9e6,
  Frozen: 400.7e6,
  42: 95.0e6,
  Epic: 107.5e6,
  Jobs: 16.1e6,
  Planes: 90.3e6,
  'Iron Man 3': 409.0e6,
  'The Wolf of Wall Street': 116.9e6,
  '12 Years a Slave': 56.7e6,
  'Captain Phillips': 107.1e6,
  'Despicable Me 2': 368.1e6,
  'Star Trek Into Darkness': 228.8e6,
  'The Hunger Games: Catching Fire': 424.7e6,
  'The Great Gatsby': 144.8e6,
  'World War Z': 202.4e6,
  'Pacific Rim': 101.8e6,
  'Thor: The Dark World': 206.4e6,
  'The Hobbit: The Desolation of Smaug': 258.4e6,
  'American Hustle': 150.1e6,
  'Dallas Buyers Club': 27.3e6,
  'Monsters University': 268.5e6,
  'Fast & Furious 6': 238.7e6,
  'The Conjuring': 137.4e6,
  'Now You See Me': 117.7e6,
  Elysium: 93.1e6,
  Oblivion: 89.1e6,
  Prisoners: 61.0e6,
  'The Heat': 159.6e6,
  'Blue Jasmine': 33.4e6,
  Nebraska: 17.7e6,
  Philomena: 37.7e6,
  'Saving Mr. Banks': 83.3e6,
  'Anchorman 2: The Legend Continues': 127.4e6,
  'The Lone Ranger': 89.3e6,
  'After Earth': 60.5e6,
  'This Is the End': 101.5e6,
  'Kick-Ass 2': 28.8e6,
};
extras.forEach(([title, year, aliases], i) => {
  const key = fold(title);
  byTitle.set(key, { id: 100001 + i, title, year, ...(aliases ? { aliases } : {}) });
});

// Aliases from subtitles: "Star Wars Ep. V: The Empire Strikes Back" is also called by its subtitle.
const movies = [...byTitle.values()].sort((a, b) => a.id - b.id);
const subtitleCount = new Map();
const subtitleOf = (t) => {
  const i = t.indexOf(':');
  return i > 0 ? t.slice(i + 1).trim() : '';
};
for (const m of movies) {
  const sub = fold(subtitleOf(m.title));
  if (sub) subtitleCount.set(sub, (subtitleCount.get(sub) ?? 0) + 1);
}
for (const m of movies) {
  const sub = subtitleOf(m.title);
  const key = fold(sub);
  // only distinctive subtitles: several words, not "Part II", one movie, not another movie's title
  if (!key || key.split(' ').length < 3 || /^part\b/.test(key)) continue;
  if (subtitleCount.get(key) !== 1 || byTitle.has(key)) continue;
  m.aliases = [...(m.aliases ?? []), sub];
}

fs.writeFileSync(out, `${JSON.stringify(movies, null, 0).replace(/\},\{/g, '},\n{')}\n`);
console.log(`wrote ${movies.length} movies to ${path.relative(root, out)}`);

// Popularity: US gross per folded title (the key roles/feeder/sources/popularity.ts computes) of every catalog
// movie the table has a figure for; a remade title keeps the figure of the release the catalog keeps.
const gross = {};
rows.forEach((r, i) => {
  const m = movies.find((x) => x.id === i + 1);
  if (m && typeof r['US Gross'] === 'number' && r['US Gross'] > 0) gross[fold(m.title)] = r['US Gross'];
});
for (const [title, usd] of Object.entries(extrasGross)) gross[fold(title)] = usd;
const popularity = {
  about:
    'US gross (dollars) by folded title: the vega-datasets movies table (BSD-3-Clause), and approximate figures for the 2013 releases added by scripts/make-catalog.mjs',
  us_gross: gross,
};
fs.writeFileSync(popularityOut, `${JSON.stringify(popularity, null, 0).replace(/,"/g, ',\n"')}\n`);
console.log(`wrote US gross of ${Object.keys(gross).length} titles to ${path.relative(root, popularityOut)}`);
