// Watch a movie as a user sees it: God connects to the fleet as a real client (the SDK, protocol/client),
// finds the endpoints as an app does (the keeper's endpoints.json, following `reconnect` redirects), starts
// the movie's feed and reports each tweet with its author and the delay from its creation to its arrival.
// `god watch` prints it; the dashboard's watch view shows it. No UI here.
import { type EndpointAddress, FilmgrainClient } from '../../protocol/client/index.ts';
import { ENDPOINT_LIST_FILE, parseEndpointList } from '../../protocol/endpoint-list.ts';
import type { RankedMovie } from '../../protocol/messages.ts';
import { UserError } from '../../kernel/errors.ts';
import { keeperArchiveUrl } from './archive-reader.ts';
import type { FleetRedis } from './redis.ts';

/** A movie a watch can start: from `set_movies`, or just an id the list does not show. */
export interface MovieRef {
  id: number;
  title: string;
}

export interface WatchedTweet {
  movie_id: number;
  id: string;
  /** the author's screen name (`@name` on screen) and display name */
  author: string;
  name: string;
  text: string;
  created_at: string;
  received_at: string;
  /** arrival minus creation, ms (negative when the clocks disagree) */
  delay_ms: number;
  /** the endpoint it came through, host:port */
  endpoint: string;
  /** one of the recent tweets the endpoint sends when the feed starts (its delay is its age), not a live one */
  history: boolean;
}

export type WatchEvent =
  | { kind: 'connected'; endpoint: string }
  | { kind: 'redirect'; to: string; reason: string }
  | { kind: 'disconnected'; endpoint: string; reason: string }
  | { kind: 'feed_started'; resumed: boolean; history: number }
  | { kind: 'tweet'; tweet: WatchedTweet };

const addr = (a: EndpointAddress | null | undefined) => (a ? `${a.host}:${a.port}` : '?');

/**
 * Where an app would find the endpoints: the keeper's endpoints.json next to its archive (s3:// or file://);
 * without an archive, the copy the keeper keeps in Redis.
 */
export async function watchSource(o: {
  archive: string | undefined;
  baseDir: string;
  provider: { defaultArchive?(): string | undefined };
  fleetRedis?: () => Promise<FleetRedis>;
}): Promise<string | EndpointAddress[]> {
  const archive = keeperArchiveUrl(o.archive, o.baseDir, o.provider);
  if (archive) return `${archive.replace(/\/+$/, '')}/${ENDPOINT_LIST_FILE}`;
  const fr = o.fleetRedis ? await o.fleetRedis() : undefined;
  const raw = fr ? await fr.redis.get(fr.keys.endpointList) : null;
  if (!raw) {
    throw new UserError(
      'no endpoint list to watch through: no keeper archive is configured and Redis has none',
      {
        code: 'GOD_WATCH',
      },
    );
  }
  return parseEndpointList(raw).endpoints.map((e) => ({ host: e.host, port: e.port, tls: e.tls }));
}

/**
 * The movie `query` names among `movies`: an id, an exact title (any case), else the one title containing it.
 * Several matches: a usage error listing them; none: an error saying what the endpoint shows.
 */
export function resolveMovie(movies: readonly MovieRef[], query: string): MovieRef {
  const q = query.trim();
  if (/^\d+$/.test(q)) {
    const id = Number(q);
    return movies.find((m) => m.id === id) ?? { id, title: `movie ${id}` };
  }
  const lower = q.toLowerCase();
  const exact = movies.filter((m) => m.title.toLowerCase() === lower);
  const hits = exact.length ? exact : movies.filter((m) => m.title.toLowerCase().includes(lower));
  if (hits.length === 1) return hits[0]!;
  if (hits.length > 1) {
    const shown = hits.slice(0, 20).map((m) => `  ${m.id}  ${m.title}`);
    throw new UserError(
      `"${q}" matches ${hits.length} movies:\n${shown.join('\n')}${hits.length > 20 ? `\n  … ${hits.length - 20} more` : ''}`,
      { code: 'GOD_USAGE', hint: 'Give the id (first column) or more of the title: god watch ID.' },
    );
  }
  throw new UserError(`no movie titled like "${q}" among the ${movies.length} the endpoint lists`, {
    code: 'GOD_WATCH_MOVIE',
  });
}

export interface WatchOptions {
  source: string | EndpointAddress[];
  /** a title or an id (resolved against the endpoint's `set_movies`), or the movie itself */
  movie: string | MovieRef;
  onEvent: (ev: WatchEvent) => void;
  /** give up when no endpoint answered `connect` by then (default 15 s) */
  connectTimeoutMs?: number;
  now?: () => number;
}

/** One watch: a client of the fleet on one movie's feed until close(). */
export class MovieWatch {
  private readonly client: FilmgrainClient;
  private closed = false;
  movie?: MovieRef;
  /** tweets received */
  tweets = 0;
  /** history tweets still to come after the last feed_started */
  private historyLeft = 0;

  constructor(private readonly o: WatchOptions) {
    this.client = new FilmgrainClient({
      endpoints: o.source,
      app: 'god-watch',
      version: '1',
      connectTimeoutMs: 10_000,
      backoff: { initialMs: 200, maxMs: 3000 },
    });
  }

  /** Connect, find the movie in the endpoint's list and start its feed; resolves with the movie. */
  async start(): Promise<MovieRef> {
    const now = this.o.now ?? Date.now;
    const c = this.client;
    c.on('connected', (a) => this.o.onEvent({ kind: 'connected', endpoint: addr(a) }));
    c.on('redirect', (r) =>
      this.o.onEvent({ kind: 'redirect', to: `${r.host}:${r.port}`, reason: r.reason }),
    );
    c.on('disconnected', (d) => {
      if (!this.closed)
        this.o.onEvent({ kind: 'disconnected', endpoint: addr(d.endpoint), reason: d.reason });
    });
    c.on('feed_started', (f) => {
      this.historyLeft = f.history;
      this.o.onEvent({ kind: 'feed_started', resumed: f.resumed, history: f.history });
    });
    c.on('post_tweet', (p) => {
      if (!this.movie || p.movie_id !== this.movie.id) return;
      const at = now();
      this.tweets++;
      const history = this.historyLeft > 0;
      if (history) this.historyLeft--;
      const t = p.tweet;
      this.o.onEvent({
        kind: 'tweet',
        tweet: {
          movie_id: p.movie_id,
          id: t.id,
          author: t.user.screen_name,
          name: t.user.name,
          text: t.text,
          created_at: t.created_at,
          received_at: new Date(at).toISOString(),
          delay_ms: at - Date.parse(t.created_at),
          endpoint: addr(c.endpoint),
          history,
        },
      });
    });
    const first = new Promise<readonly RankedMovie[]>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new UserError(
              `no endpoint answered within ${Math.round((this.o.connectTimeoutMs ?? 15_000) / 1000)} s (${describe(this.o.source)})`,
              { code: 'GOD_WATCH' },
            ),
          ),
        this.o.connectTimeoutMs ?? 15_000,
      );
      c.once('set_movies', (m) => {
        clearTimeout(timer);
        resolve(m.movies);
      });
      c.once('closed', () => clearTimeout(timer));
    });
    try {
      await c.start();
      const movies = await first;
      this.movie = typeof this.o.movie === 'string' ? resolveMovie(movies, this.o.movie) : this.o.movie;
    } catch (err) {
      this.close();
      if (err instanceof UserError) throw err;
      throw new UserError(`cannot watch: ${(err as Error).message}`, { code: 'GOD_WATCH' });
    }
    if (this.closed) return this.movie;
    c.startFeed(this.movie.id);
    return this.movie;
  }

  /** The endpoint the client is connected to now. */
  get endpoint(): string | undefined {
    return this.client.endpoint ? addr(this.client.endpoint) : undefined;
  }

  /** Close the connection (the endpoint sees the client leave). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.client.close();
  }
}

function describe(source: string | EndpointAddress[]): string {
  return typeof source === 'string' ? source : source.map(addr).join(', ') || 'no endpoints';
}

/** "85 ms", "1.2 s", "3 m 4 s": a tweet's delay, precise where it is small. */
export function delayText(ms: number): string {
  const a = Math.abs(ms);
  const sign = ms < 0 ? '-' : '';
  if (a < 1000) return `${sign}${Math.round(a)} ms`;
  if (a < 60_000) return `${sign}${(a / 1000).toFixed(1)} s`;
  return `${sign}${Math.floor(a / 60_000)} m ${Math.round((a % 60_000) / 1000)} s`;
}
