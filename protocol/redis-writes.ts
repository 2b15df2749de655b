// How data is written under the Redis contract, so every writer (feeder, tests, God) writes it the same way.
// Each function queues commands on a pipeline or multi (`ChainableCommander`); the caller executes it.
import type { ChainableCommander } from 'ioredis';
import { RANKING_WINDOW_S, type RankedMovie, type ServerParamsOf, type Tweet } from './messages.ts';
import { encodeServerMessage } from './ndjson.ts';
import {
  type CatalogMovie,
  type EndpointRecord,
  ENDPOINT_TTL_S,
  RECENT_TWEETS_CAP,
  RECENT_TWEETS_TTL_S,
  type RedisContract,
} from './redis-contract.ts';

/** Publish one tweet of one movie: the ready `post_tweet` wire line (with its `\n`) on the movie channel,
 * and into the movie's capped history (newest first). Returns the line. */
export function queueTweet(
  p: ChainableCommander,
  keys: RedisContract,
  movieId: number,
  tweet: Tweet,
): Buffer {
  const line = encodeServerMessage('post_tweet', { movie_id: movieId, tweet });
  const recent = keys.movieRecent(movieId);
  p.publish(keys.movieChannel(movieId), line);
  p.lpush(recent, line);
  p.ltrim(recent, 0, RECENT_TWEETS_CAP - 1);
  p.expire(recent, RECENT_TWEETS_TTL_S);
  return line;
}

/** The commands queueTweetBatch needs: an ioredis pipeline has them, and so does a raw RESP encoder. */
export interface TweetCommands {
  publish(channel: string, message: Buffer): unknown;
  lpush(key: string, ...elements: Buffer[]): unknown;
  ltrim(key: string, start: number, stop: number): unknown;
  expire(key: string, seconds: number): unknown;
}

/**
 * queueTweet for many publications at once, leaving the same channel messages and histories as calling it for
 * each in order: one PUBLISH per publication (in order, before the histories, as queueTweet does), then per
 * movie (in order of first appearance) one LPUSH of its lines oldest first — only the newest
 * RECENT_TWEETS_CAP, the others would be trimmed anyway — one LTRIM and one EXPIRE. So the commands are
 * `pubs.length` PUBLISHes, then LPUSH, LTRIM, EXPIRE per movie; `group[i]` is the movie position of
 * publication i (its LPUSH is command `pubs.length + 3 * group[i]`).
 */
export function queueTweetBatch(
  p: TweetCommands,
  keys: RedisContract,
  pubs: ReadonlyArray<{ movieId: number; tweet: Tweet }>,
): { group: number[]; movies: number } {
  const groups = new Map<number, Buffer[]>();
  const group: number[] = new Array(pubs.length);
  for (let i = 0; i < pubs.length; i++) {
    const { movieId, tweet } = pubs[i];
    const line = encodeServerMessage('post_tweet', { movie_id: movieId, tweet });
    p.publish(keys.movieChannel(movieId), line);
    let lines = groups.get(movieId);
    if (!lines) {
      lines = [];
      groups.set(movieId, lines);
    }
    lines.push(line);
  }
  let g = 0;
  const groupOf = new Map<number, number>();
  for (const [movieId, lines] of groups) {
    const recent = keys.movieRecent(movieId);
    p.lpush(recent, ...(lines.length > RECENT_TWEETS_CAP ? lines.slice(-RECENT_TWEETS_CAP) : lines));
    p.ltrim(recent, 0, RECENT_TWEETS_CAP - 1);
    p.expire(recent, RECENT_TWEETS_TTL_S);
    groupOf.set(movieId, g++);
  }
  for (let i = 0; i < pubs.length; i++) group[i] = groupOf.get(pubs[i].movieId)!;
  return { group, movies: g };
}

/** Replace the catalog (hash id → CatalogMovie JSON) and tell endpoints. */
export function queueCatalog(p: ChainableCommander, keys: RedisContract, movies: CatalogMovie[]): void {
  p.del(keys.catalog);
  for (let i = 0; i < movies.length; i += 1000) {
    const chunk = movies.slice(i, i + 1000);
    p.hset(keys.catalog, ...chunk.flatMap((m) => [String(m.id), JSON.stringify(m)]));
  }
  p.publish(keys.catalogChanged, String(movies.length));
}

/** Store the ranking as the params of `set_movies` (sorted by count, descending) and tell endpoints. */
export function queueRanking(
  p: ChainableCommander,
  keys: RedisContract,
  movies: RankedMovie[],
  at: Date = new Date(),
): ServerParamsOf['set_movies'] {
  const params = {
    movies: [...movies].sort((a, b) => b.count - a.count || a.id - b.id),
    window_s: RANKING_WINDOW_S,
    at: at.toISOString(),
  };
  p.set(keys.ranking, JSON.stringify(params));
  p.publish(keys.rankingChanged, params.at);
  return params;
}

/** Register (or refresh) an endpoint in the registry; it expires unless refreshed. */
export function queueEndpointRecord(p: ChainableCommander, keys: RedisContract, rec: EndpointRecord): void {
  p.set(keys.endpoint(rec.id), JSON.stringify(rec), 'EX', ENDPOINT_TTL_S);
  p.zadd(keys.endpointIndex, Date.now(), rec.id);
}
