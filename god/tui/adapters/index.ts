// Everything that feeds the dashboard store, started and stopped together.
import type { EventBus } from '../../core/events.ts';
import type { Provider } from '../../core/providers/types.ts';
import type { FleetRedis } from '../../core/redis.ts';
import { redactUrl } from '../../../kernel/redact.ts';
import type { DashboardStore } from '../store.ts';
import { feedAlerts } from './alerts.ts';
import { feedLogs } from './logs.ts';
import { feedRanking } from './ranking.ts';
import { feedStatus } from './status.ts';

export interface FeedSources {
  fleetRedis: FleetRedis;
  provider: Provider;
  /** God's events (deploy progress, supervision) */
  events?: EventBus;
  statusIntervalMs?: number;
  rankingIntervalMs?: number;
  logHistory?: number;
}

export interface Feeds {
  stop(): Promise<void>;
}

export function startFeeds(store: DashboardStore, src: FeedSources): Feeds {
  const abort = new AbortController();
  const { signal } = abort;
  store.setHeader({ fleet: src.provider.kind, redis: redactUrl(src.fleetRedis.url) });
  const offEvents = src.events?.on((ev) => store.applyEvent(ev));
  const fail = (what: string) => (err: unknown) => {
    if (!signal.aborted) store.view.setNotice(`${what} stopped: ${(err as Error).message}`, 'error');
  };
  const running = [
    feedLogs(store, src.fleetRedis, signal, { history: src.logHistory }).catch(fail('log tail')),
    feedStatus(
      store,
      { fleetRedis: src.fleetRedis, provider: src.provider, intervalMs: src.statusIntervalMs },
      signal,
    ).catch(fail('status')),
    feedRanking(store, src.fleetRedis, signal, { intervalMs: src.rankingIntervalMs }).catch(fail('ranking')),
    feedAlerts(store, src.fleetRedis, signal).catch(fail('alerts')),
  ];
  return {
    async stop() {
      offEvents?.();
      abort.abort();
      await Promise.allSettled(running);
    },
  };
}
