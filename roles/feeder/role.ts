// The feeder role: catalog → source → Feeder (match, count, publish, rank), wired to the role runtime.
import fs from 'node:fs';
import type { Redis } from 'ioredis';
import type { ConfigOf } from '../runtime/config.ts';
import { UserError } from '../../kernel/errors.ts';
import type { RoleContext, RoleDefinition, RoleInstance } from '../runtime/role.ts';
import { loadCatalog } from './catalog.ts';
import { Feeder } from './feeder.ts';
import { feederReady, wireFeederMetrics } from './metrics.ts';
import { feederOptions } from './options.ts';
import { Recorder } from './record.ts';
import { RespConnection } from './resp.ts';
import { ReplaySource } from './sources/replay.ts';
import { SyntheticSource } from './sources/synthetic.ts';
import { TOKEN_ENV, TwitterSource } from './sources/twitter.ts';
import type { Source, SourceSink } from './sources/types.ts';

export type FeederConfig = ConfigOf<typeof feederOptions>;

export interface FeederHooks {
  /** the clock (tests move it) */
  now?: () => number;
  env?: NodeJS.ProcessEnv;
}

export function feederRole(hooks: FeederHooks = {}): RoleDefinition<typeof feederOptions> {
  return {
    role: 'feeder',
    description: 'Twitter stream → movie matching → past-hour ranking → per-movie Redis channels',
    options: feederOptions,
    main: (ctx) => startFeeder(ctx, hooks),
  };
}

async function startFeeder(ctx: RoleContext<FeederConfig>, hooks: FeederHooks): Promise<RoleInstance> {
  const { config: c, log } = ctx;
  let catalog = loadCatalog(c.catalog);
  log.info({ catalog: c.catalog, movies: catalog.length, source: c.source }, 'catalog loaded');
  const recorder = c.record ? new Recorder(c.record) : undefined;

  let source: Source;
  let twitter: TwitterSource | undefined;
  if (c.source === 'replay') {
    if (!c.replay) {
      throw new UserError('--source replay needs a file to replay', {
        code: 'FG_CONFIG',
        hint: 'Pass --replay FILE (FG_REPLAY_FILE), e.g. --replay data/replay-sample.ndjson.',
      });
    }
    source = new ReplaySource({
      file: c.replay,
      speed: c.speed,
      loop: c.loop,
      onPass: (pass, lines) => log.info({ pass, lines }, 'replay reached the end of the file'),
    });
  } else if (c.source === 'synthetic') {
    source = new SyntheticSource({ catalog: () => catalog, rate: c.rate, seed: c.seed });
  } else {
    twitter = new TwitterSource({
      token: (hooks.env ?? process.env)[TOKEN_ENV],
      apiUrl: c.twitterApiUrl,
      limits: { maxLength: c.twitterRuleMaxLength, maxRules: c.twitterMaxRules, tag: c.twitterRuleTag },
      backoffScale: c.twitterBackoffScale,
      stallTimeoutMs: c.twitterStallTimeout,
      catalog: () => catalog,
      log,
    });
    source = twitter;
  }

  // publications fail fast while Redis is down: the Publisher keeps its own bounded buffer
  let publishRedis: Redis | undefined;
  let publishResp: RespConnection | undefined;
  if (c.publishMode === 'resp') {
    publishResp = new RespConnection(c.redis, {
      name: `${ctx.id}:publish`,
      tlsCa: c.redisTlsCa,
      tlsInsecure: c.redisTlsInsecure,
      onStatus: (s, err) =>
        s === 'down' && log.warn({ err: err?.message }, 'publish connection lost; reconnecting'),
    });
    // e.g. WRONGPASS: said once per refusal streak, retried with backoff like the other connections
    let refused = '';
    publishResp.on('refused', (err: Error) => {
      if (err.message !== refused) log.error({ err: err.message }, 'Redis refused the publish connection');
      refused = err.message;
    });
    publishResp.on('ready', () => {
      refused = '';
    });
  } else publishRedis = ctx.connect('publish', { offlineQueue: false });
  const feeder = new Feeder({
    redis: ctx.redis,
    publishRedis,
    publishResp,
    keys: ctx.keys,
    log,
    catalog,
    now: hooks.now,
    rankingIntervalMs: c.rankingInterval,
    rankingSize: c.rankingSize,
    maxBuffer: c.bufferMax,
    batch: c.batchSize,
    publishMode: c.publishMode,
    recorder,
  });
  try {
    await feeder.start();
  } catch (err) {
    publishResp?.close();
    throw err;
  }

  if (ctx.metrics) {
    wireFeederMetrics(ctx.metrics, { feeder, source: c.source, twitter, now: hooks.now ?? Date.now });
  }

  // a changed catalog file: new matcher, catalog in Redis, rules re-synced; a broken one is logged and ignored
  const onCatalogFile = (cur: fs.Stats, prev: fs.Stats) => {
    if (cur.mtimeMs === prev.mtimeMs && cur.size === prev.size) return;
    try {
      const next = loadCatalog(c.catalog);
      catalog = next;
      void feeder.replaceCatalog(next).catch((err) => log.warn({ err: err.message }, 'catalog write failed'));
      log.info({ movies: next.length }, 'catalog reloaded');
      twitter?.syncRules().catch((err) => log.warn({ err: (err as Error).message }, 'rules re-sync failed'));
    } catch (err) {
      log.error({ err: (err as Error).message }, 'the changed catalog is invalid; keeping the previous one');
    }
  };
  fs.watchFile(c.catalog, { interval: c.catalogPoll, persistent: false }, onCatalogFile);

  const sink: SourceSink = {
    line: (l) => feeder.ingestLine(l),
    object: (o, l) => feeder.ingest(o, l),
    bad: (reason, sample) => feeder.bad(reason, sample),
    ready: () => feeder.ready(),
  };
  const abort = new AbortController();
  const running = source.run(sink, abort.signal).then(
    () => {
      if (!abort.signal.aborted) log.info({ source: source.name }, 'source finished; ranking stays live');
    },
    (err) => {
      log.error({ err }, `source ${source.name} failed`);
      throw err;
    },
  );
  // a source failing is a crash: the runtime logs it and a supervisor restarts the process
  running.catch((err) => setImmediate(() => Promise.reject(err)));

  return {
    summary: () => ({
      totals: { tweets: feeder.tweets, matched: feeder.matched, published: feeder.publisher.published },
      now: { buffered: feeder.publisher.buffered },
    }),
    ready: () => feederReady(() => (publishResp ? publishResp.status : (publishRedis?.status ?? 'ready'))),
    gauges: () => ({ ...feeder.gauges(), ...(source.gauges?.() ?? {}), recorded: recorder?.lines ?? 0 }),
    async stop() {
      abort.abort();
      fs.unwatchFile(c.catalog, onCatalogFile);
      await running.catch(() => {});
      await feeder.stop();
      publishResp?.close();
      await recorder?.close();
    },
  };
}

/** exposed for tests: the options spec */
export { feederOptions };
