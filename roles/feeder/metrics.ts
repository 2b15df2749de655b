// The feeder's /metrics and /readyz: its counters (plain numbers the Feeder, Publisher and source keep) read at
// scrape time; match latency timed on a sample of tweets, publish latency once per acknowledged batch.
import type { ReadyCheck, ReadyChecks } from '../runtime/admin.ts';
import type { RoleMetrics } from '../runtime/metrics.ts';
import type { Feeder } from './feeder.ts';
import type { TwitterSource } from './sources/twitter.ts';

export interface FeederParts {
  feeder: Feeder;
  /** the source kind (--source): twitter, replay, synthetic */
  source: string;
  twitter?: TwitterSource;
  now: () => number;
}

export function wireFeederMetrics(m: RoleMetrics, p: FeederParts): void {
  const { feeder, source, twitter } = p;
  m.source('filmgrain_feeder_tweets_received_total', () => ({ [source]: feeder.tweets + feeder.badLines }))
    .source('filmgrain_feeder_tweets_matched_total', () => feeder.matched)
    .source('filmgrain_feeder_tweets_published_total', () => feeder.publisher.published)
    .source('filmgrain_feeder_tweets_dropped_total', () => ({
      invalid: feeder.badLines,
      backpressure: feeder.publisher.dropped,
    }))
    .source('filmgrain_feeder_stream_reconnects_total', () => ({ [source]: twitter?.reconnects ?? 0 }))
    .source('filmgrain_feeder_stream_backoff_seconds', () => ({ [source]: (twitter?.backoffMs ?? 0) / 1000 }))
    .source('filmgrain_feeder_ranking_age_seconds', () =>
      feeder.rankingAt ? Math.max(0, (p.now() - feeder.rankingAt) / 1000) : 0,
    );
  const match = m.histogram('filmgrain_feeder_match_latency_seconds');
  feeder.onMatchTimed = (s) => match.observe(s);
  const publish = m.histogram('filmgrain_feeder_publish_latency_seconds');
  feeder.onPublished = (s) => publish.observe(s);
}

/** Ready: the publish connection is up (Redis itself is the runtime's check). */
export function feederReady(publishStatus: () => string): ReadyChecks {
  const s = publishStatus();
  const publish: ReadyCheck =
    s === 'ready' ? { ok: true } : { ok: false, why: `the publish connection to Redis is ${s}` };
  return { publish };
}
