// `--source synthetic`: realistic tweets about catalog movies, mixed with everyday chatter that must not
// match, at `--rate N` per second (for demos and benchmarks). Movies are drawn by popularity (popularity.ts:
// Zipf over US gross, plus movies trending for minutes). Deterministic for a given seed and clock.
import type { CatalogMovie } from '../../../protocol/redis-contract.ts';
import { PopularityModel, rng } from './popularity.ts';
import { sleep } from '../../../kernel/sleep.ts';
import type { Source, SourceSink } from './types.ts';
import { hashtag } from './twitter-rules.ts';

const POSITIVE = [
  'Just watched {A} and loved it',
  '{A} was amazing, best movie I have seen this year',
  "Can't wait for #{TAG} this weekend!",
  'The {A} trailer looks incredible',
  'Going to see {A} tonight at the cinema 🍿',
  '"{A}" is on my watch list',
  'Rewatching {A} on Netflix, still holds up',
  'Saw {A} in IMAX, totally worth it',
  '{A} vs {B}: which movie was better?',
  'Movie marathon tonight: {A} then {B}',
  'Is {A} worth seeing? The reviews are mixed',
  '#{TAG} soundtrack on repeat',
];
const NOISE = [
  'traffic on the way to work is terrible today',
  'need more coffee before this meeting',
  'my cat knocked the plant off the window again',
  'finally finished that report, going to sleep early',
  'anyone know a good pizza place near downtown?',
  'the weather is so nice today, going for a run',
  'cannot believe how expensive groceries are lately',
  'my phone battery dies so fast since the update',
  'happy birthday to my little sister!',
  'stuck at the airport, flight delayed two hours',
  'so proud of my team today, great job everyone',
  'learning to bake bread is harder than it looks',
  'ugh mondays',
  'the new coffee place on main street is great',
  'who else is tired of all this rain',
];
const NAMES = [
  ['Alex Kim', 'alexk'],
  ['Maria Lopez', 'mlopez'],
  ['Sam Taylor', 'samt_99'],
  ['Priya Patel', 'priyap'],
  ['Jordan Lee', 'jlee'],
  ['Chris Evans Fan', 'cap_fan_42'],
  ['Dana White', 'danaw'],
  ['Lee Chen', 'leechen'],
] as const;

export interface SyntheticTweet {
  /** a Twitter API v2 filtered-stream line */
  obj: {
    data: { id: string; text: string; created_at: string; author_id: string };
    includes: { users: Array<{ id: string; name: string; username: string }> };
    matching_rules: Array<{ id: string; tag: string }>;
  };
  /** the catalog ids the tweet was written about (empty for noise) */
  about: number[];
}

export class TweetGenerator {
  private readonly random: () => number;
  private seq = 0;
  private readonly idBase: bigint;

  /** noise: share of tweets about no movie (0..1) */
  constructor(
    private readonly catalog: CatalogMovie[],
    seed = 1,
    private readonly noise = 0.3,
    private readonly now: () => number = Date.now,
  ) {
    this.random = rng(seed);
    this.idBase = BigInt(this.now()) << 22n;
    this.popularity = new PopularityModel(catalog, seed, now);
  }

  readonly popularity: PopularityModel;

  private pick<T>(a: readonly T[]): T {
    return a[Math.floor(this.random() * a.length)];
  }

  next(): SyntheticTweet {
    const [name, username] = this.pick(NAMES);
    const authorId = String(1000 + NAMES.findIndex((n) => n[1] === username));
    let text: string;
    let about: number[] = [];
    if (this.random() < this.noise) text = this.pick(NOISE);
    else {
      const ai = this.popularity.pick(this.random());
      let bi = this.popularity.pick(this.random());
      if (bi === ai) bi = (ai + 1) % this.catalog.length;
      const a = this.catalog[ai];
      const b = this.catalog[bi];
      const t = this.pick(POSITIVE);
      text = t.replace('{A}', a.title).replace('{B}', b.title).replace('{TAG}', hashtag(a.title));
      about = t.includes('{B}') ? [a.id, b.id] : [a.id];
    }
    this.seq++;
    return {
      obj: {
        data: {
          id: String(this.idBase + BigInt(this.seq)),
          text,
          created_at: new Date(this.now()).toISOString(),
          author_id: authorId,
        },
        includes: { users: [{ id: authorId, name, username }] },
        matching_rules: [{ id: '1', tag: 'filmgrain:synthetic' }],
      },
      about,
    };
  }
}

export interface SyntheticOptions {
  catalog: () => CatalogMovie[];
  /** tweets per second */
  rate: number;
  seed?: number;
  noise?: number;
}

export class SyntheticSource implements Source {
  readonly name = 'synthetic';
  generated = 0;

  constructor(private readonly o: SyntheticOptions) {}

  async run(sink: SourceSink, signal: AbortSignal): Promise<void> {
    let gen = new TweetGenerator(this.o.catalog(), this.o.seed ?? Date.now() % 1e9, this.o.noise);
    let catalog = this.o.catalog();
    const started = performance.now();
    const tickMs = 10;
    while (!signal.aborted) {
      if (this.o.catalog() !== catalog) {
        catalog = this.o.catalog();
        gen = new TweetGenerator(catalog, this.o.seed ?? Date.now() % 1e9, this.o.noise);
      }
      // emit what is due by now, at an even rate
      const due = Math.floor(((performance.now() - started) / 1000) * this.o.rate) - this.generated;
      for (let i = 0; i < due; i++) {
        sink.object(gen.next().obj);
        this.generated++;
      }
      await sink.ready();
      await sleep(tickMs, signal);
    }
  }
}
