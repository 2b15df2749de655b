// Movies pane feed: the ranking the feeder stores under the contract's ranking key (the params of
// `set_movies`), read every second; a new `at` is a new snapshot for the sparklines. Beside it, who is
// watching each movie (the endpoints' counts, summed).
import { ServerParams } from '../../../protocol/messages.ts';
import { readWatching } from '../../../protocol/watching.ts';
import type { FleetRedis } from '../../core/redis.ts';
import type { DashboardStore } from '../store.ts';
import { every } from './poll.ts';

export async function feedRanking(
  store: DashboardStore,
  fleetRedis: FleetRedis,
  signal: AbortSignal,
  o: { intervalMs?: number } = {},
): Promise<void> {
  let lastAt: string | undefined;
  let lastWatching = '';
  let warned = false;
  await every(
    o.intervalMs ?? 1000,
    async () => {
      const watching = await readWatching(fleetRedis.redis, fleetRedis.keys);
      const w = JSON.stringify([...watching]);
      if (w !== lastWatching) {
        lastWatching = w;
        store.movies.setWatching(watching);
      }
      const raw = await fleetRedis.redis.get(fleetRedis.keys.ranking);
      if (!raw) return;
      const parsed = ServerParams.set_movies.safeParse(JSON.parse(raw));
      if (!parsed.success) {
        if (!warned)
          store.view.setNotice(
            `the stored ranking does not match set_movies: ${parsed.error.message}`,
            'warn',
          );
        warned = true;
        return;
      }
      if (parsed.data.at === lastAt) return;
      lastAt = parsed.data.at;
      // sampled at our clock: the sparkline slots are about when we saw it change
      store.setRanking(parsed.data.movies, Date.now());
    },
    signal,
    () => {}, // Redis trouble is reported once by the status feed
  );
}
