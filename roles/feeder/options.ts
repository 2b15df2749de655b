// The feeder's flags; each also reads an env var. Twitter credentials are env-only (TWITTER_BEARER_TOKEN).
import { z } from 'zod';
import { boolFlag, intFrom } from '../../kernel/flags.ts';
import type { OptionsSpec } from '../../kernel/options.ts';
import { durationMs } from '../../kernel/units.ts';

const speed = z.string().transform((v, ctx) => {
  if (v.trim().toLowerCase() === 'max') return Number.POSITIVE_INFINITY;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) {
    ctx.addIssue({
      code: 'custom',
      message: `"${v}" is not a speed: use a positive number (2 = twice as fast) or max`,
    });
    return z.NEVER;
  }
  return n;
});

export const feederOptions = {
  catalog: {
    flag: '--catalog <file>',
    env: 'FG_CATALOG',
    description: 'movie catalog JSON (array of {id, title, year?, aliases?}); reloaded when it changes',
    schema: z
      .string({ error: 'is required: the path of a catalog JSON file, e.g. data/movies.json' })
      .min(1, 'is required: the path of a catalog JSON file, e.g. data/movies.json'),
  },
  source: {
    flag: '--source <kind>',
    env: 'FG_SOURCE',
    description: 'where tweets come from: twitter | replay | synthetic',
    schema: z.enum(['twitter', 'replay', 'synthetic']),
    default: 'twitter',
  },
  replay: {
    flag: '--replay <file>',
    env: 'FG_REPLAY_FILE',
    description: 'recorded NDJSON tweets for --source replay',
    schema: z.string().optional(),
  },
  speed: {
    flag: '--speed <x>',
    env: 'FG_REPLAY_SPEED',
    description: 'replay pace: 1 = as tweeted, 10 = ten times faster, max = as fast as possible',
    schema: speed,
    default: '1',
  },
  loop: {
    flag: '--loop',
    env: 'FG_REPLAY_LOOP',
    description: 'start the replay over at the end of the file',
    schema: boolFlag.default(false),
  },
  rate: {
    flag: '--rate <n>',
    env: 'FG_SYNTHETIC_RATE',
    description: 'tweets per second for --source synthetic',
    schema: intFrom(1, 10_000_000),
    default: '50',
  },
  seed: {
    flag: '--seed <n>',
    env: 'FG_SYNTHETIC_SEED',
    description: 'seed of the synthetic tweets (same seed, same tweets)',
    schema: intFrom(0).optional(),
  },
  record: {
    flag: '--record <file>',
    env: 'FG_RECORD',
    description: 'append every delivered tweet to this NDJSON file (replayable with --source replay)',
    schema: z.string().optional(),
  },
  twitterApiUrl: {
    flag: '--twitter-api-url <url>',
    env: 'FG_TWITTER_API_URL',
    description: 'Twitter API base URL (tests use a local server)',
    schema: z.string().url(),
    default: 'https://api.x.com',
  },
  twitterRuleTag: {
    flag: '--twitter-rule-tag <tag>',
    env: 'FG_TWITTER_RULE_TAG',
    description: 'tag of the stream rules this feeder owns (others are left alone)',
    schema: z.string().min(1),
    default: 'filmgrain',
  },
  twitterRuleMaxLength: {
    flag: '--twitter-rule-max-length <n>',
    env: 'FG_TWITTER_RULE_MAX_LENGTH',
    description: 'longest stream rule the API accepts',
    schema: intFrom(16),
    default: '512',
  },
  twitterMaxRules: {
    flag: '--twitter-max-rules <n>',
    env: 'FG_TWITTER_MAX_RULES',
    description: 'most stream rules the API accepts',
    schema: intFrom(1),
    default: '1000',
  },
  twitterBackoffScale: {
    flag: '--twitter-backoff-scale <factor>',
    env: 'FG_TWITTER_BACKOFF_SCALE',
    description: 'multiplies every reconnect delay (1 = what Twitter asks for)',
    schema: z.coerce.number().positive(),
    default: '1',
  },
  twitterStallTimeout: {
    flag: '--twitter-stall-timeout <duration>',
    env: 'FG_TWITTER_STALL_TIMEOUT',
    description: 'reconnect when the stream sends nothing (not even a keep-alive) for this long',
    schema: durationMs,
    default: '30s',
  },
  rankingInterval: {
    flag: '--ranking-interval <duration>',
    env: 'FG_RANKING_INTERVAL',
    description: 'how often the ranking is recomputed (written only when it changed)',
    schema: durationMs,
    default: '1s',
  },
  rankingSize: {
    flag: '--ranking-size <n>',
    env: 'FG_RANKING_SIZE',
    description: 'movies in the ranking',
    schema: intFrom(1, 100_000),
    default: '100',
  },
  bufferMax: {
    flag: '--buffer-max <n>',
    env: 'FG_BUFFER_MAX',
    description: 'publications held while Redis is slow or away (the oldest are dropped beyond it)',
    schema: intFrom(1),
    default: '100000',
  },
  batchSize: {
    flag: '--batch-size <n>',
    env: 'FG_BATCH_SIZE',
    description: 'publications per Redis pipeline',
    schema: intFrom(1),
    default: '1000',
  },
  publishMode: {
    flag: '--publish-mode <mode>',
    env: 'FG_PUBLISH_MODE',
    description:
      'resp: one publish-script EVAL per batch (history stream XADD + PUBLISH with offset) encoded as raw RESP on a dedicated connection; ' +
      'commands: one EVAL per publication on ioredis; script: one EVAL per batch on ioredis',
    schema: z.enum(['resp', 'commands', 'script']),
    default: 'resp',
  },
  catalogPoll: {
    flag: '--catalog-poll <duration>',
    env: 'FG_CATALOG_POLL',
    description: 'how often the catalog file is checked for changes',
    schema: durationMs,
    default: '2s',
  },
} satisfies OptionsSpec;
