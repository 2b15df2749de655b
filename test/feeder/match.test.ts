// Matching: positive and negative cases, several movies in one tweet, the ambiguous titles (Her, Rush,
// Gravity, Frozen, 42, Epic, Jobs, Planes), the labelled evaluation set on the real catalog, and
// `feeder match` as a real process (stdin → one {"id","movies"} line per tweet, nothing else on stdout).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CatalogMovie } from '../../protocol/redis-contract.ts';
import { Matcher } from '../../roles/feeder/match/matcher.ts';
import { TweetGenerator } from '../../roles/feeder/sources/synthetic.ts';
import { toTweet } from '../../roles/feeder/tweet.ts';
import { evaluate, loadEvalSet } from './eval/evaluate.ts';
import { ndjson, REAL_CATALOG, ROOT, TEST_CATALOG, v1Tweet, v2Tweet } from './helpers.ts';

const testCatalog: CatalogMovie[] = JSON.parse(fs.readFileSync(TEST_CATALOG, 'utf8'));
const realCatalog: CatalogMovie[] = JSON.parse(fs.readFileSync(REAL_CATALOG, 'utf8'));
const m = new Matcher(testCatalog);
const id = (title: string) => testCatalog.find((x) => x.title === title)!.id;
const titles = (text: string) => m.match(text).map((i) => testCatalog.find((x) => x.id === i)!.title);

describe('matcher', () => {
  it.each([
    ['Just saw Gravity in IMAX, my hands are still shaking', ['Gravity']],
    ['#ManOfSteel was so good', ['Man of Steel']],
    ['man of steel trailer gave me chills', ['Man of Steel']],
    ['MAN OF STEEL!!! tonight!!!', ['Man of Steel']],
    ["Schindler's List and Schindlers List are the same film", ["Schindler's List"]],
    ['Leon is Luc Besson at his best', ['Léon']],
    ['Fast and Furious 6 and Fast & Furious 6 and Fast 6', ['Fast & Furious 6']],
    ['Catching Fire premiere tonight', ['The Hunger Games: Catching Fire']],
    ["Gravity's sound design deserves the oscar", ['Gravity']],
    ['Iron Man Three was fun', ['Iron Man 3']],
  ])('finds titles, aliases, hashtags, folded forms: %s', (text, want) => {
    expect(titles(text)).toEqual(want);
  });

  it('prefers the longest title and finds several movies in one tweet', () => {
    expect(titles('Iron Man 3 was better than Iron Man')).toEqual(['Iron Man 3', 'Iron Man']);
    expect(titles('12 Years a Slave, Gravity and Captain Phillips are the films of the year')).toEqual([
      '12 Years a Slave',
      'Gravity',
      'Captain Phillips',
    ]);
    expect(titles('Saw Rush and Prisoners this weekend, both great movies')).toEqual(['Rush']);
    expect(m.match('#Gravity #Gravity gravity GRAVITY')).toEqual([id('Gravity')]);
  });

  it.each([
    ['Her', 'Just saw Her, Spike Jonze is a genius', 'I love her so much'],
    ['Her', 'The movie Her made me call my ex', 'Her smile makes my day'],
    ['Rush', '#Rush Ron Howard nailed the 70s', 'Sorry I am late, rush hour was insane'],
    ['Rush', 'rush trailer looks amazing', "Don't rush me"],
    ['Gravity', 'Gravity (2013) is a masterpiece', 'Gravity always wins when I carry groceries'],
    ['Frozen', 'frozen soundtrack on repeat', 'Frozen pipes again this morning'],
    ['Frozen', 'Took the kids to see Frozen', 'my hands are frozen, it is -10 outside'],
    ['42', 'Watched 42 last night, great baseball film', 'I have 42 unread emails'],
    ['42', '"42" trailer looks powerful', 'She turned 42 yesterday'],
    ['Epic', 'Epic (2013) is a cute animated movie', 'That was an epic fail'],
    ['Epic', 'Took my nephew to see Epic', 'Epic movie night with the kids'],
    ['Jobs', 'Jobs starring Ashton Kutcher looks bad', 'Steve Jobs changed the world'],
    ['Jobs', '#Jobs movie premiere at Sundance', 'The jobs report came out better than expected'],
    ['Planes', 'Saw Planes in 3D with my son', 'Planes keep flying over my house'],
    ['Up', 'Watching Up with my kids, already crying', "What's up with the weather"],
  ])('%s needs movie context: "%s" matches, "%s" does not', (title, yes, no) => {
    expect(m.match(yes)).toContain(id(title));
    expect(m.match(no)).toEqual([]);
  });

  it('ignores handles of people and words inside longer words', () => {
    expect(m.match('@her thanks for the ride')).toEqual([]);
    expect(m.match('gravityfalls is my favorite show')).toEqual([]);
    expect(m.match('upset about the superheroes')).toEqual([]);
    expect(m.match('')).toEqual([]);
    expect(m.match('🎬🍿 '.repeat(100))).toEqual([]);
  });

  it('reaches precision ≥ 0.95 and recall ≥ 0.90 on the labelled evaluation set (real catalog)', () => {
    const set = loadEvalSet(realCatalog);
    expect(set.length).toBeGreaterThanOrEqual(300);
    expect(set.filter((t) => t.movies.length > 1).length).toBeGreaterThanOrEqual(20);
    const r = evaluate(new Matcher(realCatalog), set);
    expect(r.precision).toBeGreaterThanOrEqual(0.95);
    expect(r.recall).toBeGreaterThanOrEqual(0.9);
  });

  it('synthetic tweets match the movies they were written about; their noise matches nothing', () => {
    const real = new Matcher(realCatalog);
    const gen = new TweetGenerator(realCatalog, 7, 0.3);
    let about = 0;
    let found = 0;
    for (let i = 0; i < 2000; i++) {
      const t = gen.next();
      const got = real.match(t.obj.data.text);
      if (t.about.length === 0) expect(got, t.obj.data.text).toEqual([]);
      about += t.about.length;
      found += t.about.filter((x) => got.includes(x)).length;
    }
    expect(found / about).toBeGreaterThan(0.9);
  });
});

describe('tweet formats', () => {
  it('converts v2 stream lines and v1.1 statuses to the protocol tweet', () => {
    const v2 = toTweet(
      v2Tweet('hello', { id: '17', user: 'ann', created_at: '2013-10-04T18:30:00.000Z' }),
      0,
    );
    expect(v2).toEqual({
      ok: true,
      text: 'hello',
      tweet: {
        id: '17',
        text: 'hello',
        created_at: '2013-10-04T18:30:00.000Z',
        user: { name: 'Fan ann', screen_name: 'ann' },
      },
    });
    const v1 = toTweet(v1Tweet('old api', '18'), 0);
    expect(v1.ok && v1.tweet).toEqual({
      id: '18',
      text: 'old api',
      created_at: '2013-10-04T18:30:00.000Z',
      user: { name: 'Old API Fan', screen_name: 'old_api_fan' },
    });
    expect(toTweet({ errors: [{ title: 'x' }] }, 0).ok).toBe(false);
    expect(toTweet([1, 2], 0).ok).toBe(false);
    expect(toTweet({ data: { id: 1 } }, 0).ok).toBe(false);
  });
});

describe('feeder match (a real process)', () => {
  it('writes one {"id","movies"} line per tweet, in order, and nothing else on stdout', async () => {
    const input =
      ndjson([
        v2Tweet('Just saw Gravity in IMAX', { id: '1' }),
        v1Tweet('#ManOfSteel and Iron Man 3 tonight', '2'),
      ]) +
      '{not json\n\n' +
      ndjson([v2Tweet('I love her so much', { id: '3' }), { nothing: 'here' }]) +
      JSON.stringify(v2Tweet('Rush (2013) was great', { id: '4' })); // no final newline
    const child = spawn(
      process.execPath,
      [path.join(ROOT, 'bin/feeder.mjs'), 'match', '--catalog', TEST_CATALOG],
      {
        cwd: ROOT,
        env: { ...process.env, FG_REDIS_URL: 'redis://127.0.0.1:1' },
      },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.stdin.end(input);
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    expect(code).toBe(0);
    expect(
      out
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l)),
    ).toEqual([
      { id: '1', movies: [id('Gravity')] },
      { id: '2', movies: [id('Man of Steel'), id('Iron Man 3')] },
      { id: '3', movies: [] },
      { id: '4', movies: [id('Rush')] },
    ]);
    expect(err).toMatch(/line 3: not JSON/);
    expect(err).toMatch(/line 5: neither a v2 stream line/);
  });

  it('says what is wrong with a missing catalog', async () => {
    const child = spawn(
      process.execPath,
      [path.join(ROOT, 'bin/feeder.mjs'), 'match', '--catalog', '/nope.json'],
      {
        cwd: ROOT,
      },
    );
    let err = '';
    let out = '';
    child.stderr.on('data', (d) => (err += d));
    child.stdout.on('data', (d) => (out += d));
    child.stdin.end();
    expect(await new Promise((r) => child.on('exit', r))).toBe(2);
    expect(out).toBe('');
    expect(err).toMatch(/cannot read catalog \/nope.json: ENOENT/);
    expect(err).toMatch(/--catalog/);
  });
});
