// How data is written under the Redis contract, so every writer (feeder, tests, God) writes it the same way.
// Each function queues commands on a pipeline or multi (`ChainableCommander`); the caller executes it.
import { randomBytes } from 'node:crypto';
import type { ChainableCommander } from 'ioredis';
import { RANKING_WINDOW_S, type RankedMovie, type ServerParamsOf, type Tweet } from './messages.ts';
import { encodeServerMessage } from './ndjson.ts';
import {
  type CatalogMovie,
  type EndpointRecord,
  ENDPOINT_TTL_S,
  HISTORY_CAP,
  HISTORY_FIELDS,
  HISTORY_TTL_S,
  type RedisContract,
} from './redis-contract.ts';

/**
 * Publishing tweets: one script adds each to its movie's history stream (XADD, capped) and PUBLISHes the
 * protocol 1.1 line with the entry id as `offset` and the feed's epoch, so the offset a live client gets is the
 * one in the history, and a reader that subscribed before reading the history misses nothing (the XADD and the
 * PUBLISH are one atomic step). The epoch is read from the stream's newest entry; a stream without entries
 * (new, flushed, deleted, expired) starts a new one, ARGV[3], chosen by the writer.
 * ARGV: cap, ttl, new epoch, then (stream, channel, 1.0 line) per publication. A movie whose stream key cannot
 * be written (wrong type) does not stop the others: the script then answers an error `FGPARTIAL i j …` naming
 * the 0-based publications that failed and the first reason, e.g. `FGPARTIAL 1 3 (WRONGTYPE …)`.
 */
export const PUBLISH_TWEETS_SCRIPT = `
local cap, ttl, fresh = ARGV[1], ARGV[2], ARGV[3]
local epochs, bad, failed, why = {}, {}, {}, nil
for i = 4, #ARGV, 3 do
  local stream, channel, line = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local epoch = epochs[stream]
  if epoch == nil and not bad[stream] then
    local ok, last = pcall(redis.call, 'XREVRANGE', stream, '+', '-', 'COUNT', 1)
    if not ok then
      bad[stream] = true
      why = why or (type(last) == 'table' and last.err) or tostring(last)
    else
      epoch = fresh
      if last[1] then
        local f = last[1][2]
        for j = 1, #f, 2 do if f[j] == '${HISTORY_FIELDS.epoch}' then epoch = f[j + 1] end end
      end
      epochs[stream] = epoch
    end
  end
  if epoch == nil then
    failed[#failed + 1] = tostring((i - 4) / 3)
  else
    local id = redis.call('XADD', stream, 'MAXLEN', '~', cap, '*', '${HISTORY_FIELDS.line}', line, '${HISTORY_FIELDS.epoch}', epoch)
    redis.call('PUBLISH', channel, string.sub(line, 1, -4) .. ',"offset":"' .. id .. '","epoch":"' .. epoch .. '"}}\\n')
  end
end
for stream in pairs(epochs) do redis.call('EXPIRE', stream, ttl) end
if #failed > 0 then return redis.error_reply('FGPARTIAL ' .. table.concat(failed, ' ') .. ' (' .. why .. ')') end
return (#ARGV - 3) / 3`;

/** A new epoch: 16 random URL-safe characters. */
export const newEpoch = (): string => randomBytes(12).toString('base64url');

/** The publications that failed, from the script's error (undefined: not a partial failure, all failed). */
export function partialFailures(message: string): Set<number> | undefined {
  if (!message.startsWith('FGPARTIAL ')) return undefined;
  const list = message.slice(10).split(' (')[0]!;
  return new Set(list.split(' ').map(Number));
}

/** The commands the publish script needs: an ioredis pipeline has it, and so does a raw RESP encoder. */
export interface TweetCommands {
  eval(script: string, numkeys: number, ...args: Array<string | Buffer>): unknown;
}

/** Queue the publication of tweets (in order) as one script call. Returns the 1.0 lines. */
export function queueTweetBatch(
  p: TweetCommands,
  keys: RedisContract,
  pubs: ReadonlyArray<{ movieId: number; tweet: Tweet }>,
  epoch: string = newEpoch(),
): Buffer[] {
  const args: Array<string | Buffer> = [String(HISTORY_CAP), String(HISTORY_TTL_S), epoch];
  const lines: Buffer[] = [];
  for (const { movieId, tweet } of pubs) {
    const line = encodeServerMessage('post_tweet', { movie_id: movieId, tweet });
    lines.push(line);
    args.push(keys.movieHistory(movieId), keys.movieChannel(movieId), line);
  }
  p.eval(PUBLISH_TWEETS_SCRIPT, 0, ...args);
  return lines;
}

/** Publish one tweet of one movie (one script call, see PUBLISH_TWEETS_SCRIPT). Returns its 1.0 line. */
export function queueTweet(p: TweetCommands, keys: RedisContract, movieId: number, tweet: Tweet): Buffer {
  return queueTweetBatch(p, keys, [{ movieId, tweet }])[0]!;
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
