// `--source twitter`: the Twitter API v2 filtered stream through twitter-api-v2. Rules come from the catalog
// and are synced on start and on catalog changes; the stream reconnects with Twitter's backoff. The bearer
// token comes from the environment only and is never logged.
import http from 'node:http';
import type { Logger } from 'pino';
import {
  ApiRequestError,
  ApiResponseError,
  ETwitterStreamEvent,
  type ITwitterApiClientPlugin,
  TwitterApi,
} from 'twitter-api-v2';
import type { CatalogMovie } from '../../../protocol/redis-contract.ts';
import { UserError } from '../../../kernel/errors.ts';
import { type FailureKind, StreamBackoff } from './backoff.ts';
import { packRules, type RuleLimits, type RulesApi, syncRules, termsFor } from './twitter-rules.ts';
import { sleep } from '../../../kernel/sleep.ts';
import type { Source, SourceSink } from './types.ts';

export const TOKEN_ENV = 'TWITTER_BEARER_TOKEN';
const DEFAULT_API = 'https://api.x.com';

export interface TwitterSourceOptions {
  token: string | undefined;
  /** API base URL (tests point it at a local server) */
  apiUrl: string;
  limits: RuleLimits;
  backoffScale: number;
  /** no data nor keep-alive for this long: reconnect (Twitter sends a keep-alive every 20 s) */
  stallTimeoutMs: number;
  catalog: () => CatalogMovie[];
  log: Logger;
}

/** twitter-api-v2 plugin sending every request (REST and stream) to another base URL. */
function baseUrlPlugin(base: string): ITwitterApiClientPlugin {
  const rewrite = (url: string) => url.replace(/^https:\/\/[^/]+/, base.replace(/\/$/, ''));
  return {
    onBeforeRequestConfig({ params }) {
      params.url = rewrite(params.url);
    },
    onBeforeStreamRequestConfig({ params }) {
      params.url = rewrite(params.url);
    },
  };
}

export class TwitterSource implements Source {
  readonly name = 'twitter';
  private readonly client: TwitterApi;
  private readonly backoff: StreamBackoff;
  connects = 0;
  reconnects = 0;
  /** the reconnect wait under way, ms (0 while connected or connecting), for /metrics */
  backoffMs = 0;
  keepAlives = 0;
  rulesSynced = 0;
  connected = false;
  private syncing: Promise<void> = Promise.resolve();

  constructor(private readonly o: TwitterSourceOptions) {
    if (!o.token) {
      throw new UserError(
        `the twitter source needs a bearer token in the environment variable ${TOKEN_ENV}`,
        {
          code: 'FG_TWITTER_TOKEN',
          hint: `Export ${TOKEN_ENV}=<your app's bearer token> (it is read from the environment only), or run with --source replay|synthetic.`,
        },
      );
    }
    const plain = o.apiUrl.startsWith('http:');
    const plugins = o.apiUrl.replace(/\/$/, '') === DEFAULT_API ? [] : [baseUrlPlugin(o.apiUrl)];
    this.client = new TwitterApi(o.token, {
      plugins,
      // twitter-api-v2 uses https.request; an http.Agent lets it speak plain HTTP to a local server
      ...(plain ? { httpAgent: new http.Agent({ keepAlive: false }) } : {}),
    });
    this.backoff = new StreamBackoff(o.backoffScale);
  }

  private rulesApi(): RulesApi {
    const v2 = this.client.v2;
    return {
      list: async () => (await v2.streamRules()).data ?? [],
      add: async (rules) => {
        const r = await v2.updateStreamRules({ add: rules.map((x) => ({ value: x.value, tag: x.tag })) });
        const refused = r.meta?.summary?.not_created ?? 0;
        if (refused)
          this.o.log.warn({ refused, errors: r.errors?.slice(0, 3) }, 'twitter refused some rules');
      },
      remove: async (ids) => {
        await v2.updateStreamRules({ delete: { ids } });
      },
    };
  }

  /** Sync the stream rules with the catalog (serialized: a catalog change waits for a running sync). */
  syncRules(): Promise<void> {
    this.syncing = this.syncing.then(async () => {
      const { rules, left } = packRules(termsFor(this.o.catalog()), this.o.limits);
      if (left) {
        this.o.log.warn(
          { left_out: left, max_rules: this.o.limits.maxRules, max_length: this.o.limits.maxLength },
          'the catalog does not fit in the stream rule limits; some titles are not followed',
        );
      }
      const r = await syncRules(this.rulesApi(), rules, this.o.limits.tag);
      this.rulesSynced++;
      this.o.log.info({ ...r, rules: rules.length }, 'twitter stream rules synced');
    });
    return this.syncing;
  }

  gauges(): Record<string, number> {
    return { stream_connected: this.connected ? 1 : 0, reconnects: this.reconnects };
  }

  async run(sink: SourceSink, signal: AbortSignal): Promise<void> {
    await this.withRetry(() => this.syncRules(), signal, 'syncing stream rules');
    while (!signal.aborted) {
      let delay: number;
      try {
        await this.streamOnce(sink, signal);
        if (signal.aborted) break;
        delay = this.backoff.next('network');
        this.o.log.warn({ retry_ms: delay }, 'twitter stream disconnected; reconnecting');
      } catch (err) {
        const kind = failureKind(err);
        delay = this.backoff.next(kind);
        this.o.log.warn({ err: describe(err), kind, retry_ms: delay }, 'twitter stream connection failed');
      }
      this.reconnects++;
      this.backoffMs = delay;
      await sleep(delay, signal);
      this.backoffMs = 0;
    }
  }

  /** Connect once and deliver until the connection ends. */
  private async streamOnce(sink: SourceSink, signal: AbortSignal): Promise<void> {
    const stream = this.client.v2.searchStream({
      autoConnect: false,
      expansions: ['author_id'],
      'tweet.fields': ['created_at', 'author_id'],
      'user.fields': ['name', 'username'],
    });
    const closed = new Promise<void>((resolve) => {
      stream.on(ETwitterStreamEvent.ConnectionClosed, () => resolve());
    });
    const alive = () => {
      this.backoff.reset();
    };
    stream.on(ETwitterStreamEvent.Data, (obj: unknown) => {
      alive();
      sink.object(obj);
    });
    stream.on(ETwitterStreamEvent.DataKeepAlive, () => {
      this.keepAlives++;
      alive();
    });
    stream.on(ETwitterStreamEvent.TweetParseError, (err: Error) =>
      sink.bad('stream line is not JSON', err.message),
    );
    stream.on(ETwitterStreamEvent.DataError, (payload: unknown) =>
      sink.bad('the stream sent an error payload', JSON.stringify(payload)),
    );
    stream.on(ETwitterStreamEvent.ConnectionError, (err: Error) =>
      this.o.log.warn({ err: err.message }, 'twitter stream connection error'),
    );
    stream.on(ETwitterStreamEvent.ConnectionLost, () =>
      this.o.log.warn({ stall_ms: this.o.stallTimeoutMs }, 'twitter stream went silent'),
    );
    const onAbort = () => stream.close();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      await stream.connect({ autoReconnect: false, keepAliveTimeout: this.o.stallTimeoutMs });
      this.connected = true;
      this.connects++;
      this.o.log.info({ connects: this.connects }, 'twitter stream connected');
      await closed;
    } finally {
      this.connected = false;
      signal.removeEventListener('abort', onAbort);
      stream.removeAllListeners();
      stream.close();
    }
  }

  private async withRetry(fn: () => Promise<void>, signal: AbortSignal, what: string): Promise<void> {
    while (!signal.aborted) {
      try {
        await fn();
        return;
      } catch (err) {
        const kind = failureKind(err);
        const delay = this.backoff.next(kind);
        this.o.log.warn({ err: describe(err), kind, retry_ms: delay }, `twitter: failed ${what}`);
        await sleep(delay, signal);
      }
    }
  }
}

function failureKind(err: unknown): FailureKind {
  if (err instanceof ApiResponseError) return err.code === 429 ? 'rate_limit' : 'http';
  if (err instanceof ApiRequestError) return 'network';
  return 'network';
}

/** What went wrong, without anything from the request (headers carry the token). */
function describe(err: unknown): string {
  if (err instanceof ApiResponseError) {
    const hint = err.code === 401 || err.code === 403 ? ` (check ${TOKEN_ENV})` : '';
    return `HTTP ${err.code}${hint}`;
  }
  if (err instanceof ApiRequestError) return `network: ${err.requestError?.message ?? err.message}`;
  return (err as Error)?.message ?? String(err);
}
