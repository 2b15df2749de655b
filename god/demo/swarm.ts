// Simulated mobile clients for the demo: each is a real client SDK connection (protocol/client) that connects
// through endpoints.json, picks a movie (popular ones more often), switches now and then, and sometimes
// leaves — a newcomer takes its place a moment later. What they do is logged like any role's log, so it
// shows in the Logs pane and reaches the keeper's archive.
import type { Logger } from 'pino';
import type { RankedMovie } from '../../protocol/messages.ts';
import { FilmgrainClient } from '../../protocol/client/index.ts';

export interface SwarmOptions {
  /** endpoints.json the keeper writes (a file path, URL or s3://) */
  endpoints: string;
  /** clients kept in the swarm */
  size: number;
  log?: Logger;
  /** mean seconds between a client's moves (switch or leave) */
  meanDwellS?: number;
  /** chance a move is leaving rather than switching */
  leaveChance?: number;
  /** spread the first connections over this long */
  rampMs?: number;
  random?: () => number;
}

export interface SwarmStats {
  /** clients wanted */
  size: number;
  /** clients with a live session now */
  connected: number;
  /** clients that got their first `set_movies` */
  joined: number;
  left: number;
  switches: number;
  tweets: number;
  /** tweets received per second, over the last few seconds */
  tweetsPerS: number;
  redirects: number;
  reconnects: number;
  /** movie id → clients watching it now */
  watching: Map<number, number>;
}

interface Member {
  n: number;
  client: FilmgrainClient;
  movie?: number;
  ranking: RankedMovie[];
  timer?: NodeJS.Timeout;
  /** has a session now */
  live: boolean;
  /** had one once (a later `set_movies` is a reconnect: the SDK restores the feed itself) */
  joined: boolean;
}

export class Swarm {
  private readonly members = new Set<Member>();
  private seq = 0;
  private stopped = false;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly random: () => number;
  private readonly rate: Array<{ at: number; tweets: number }> = [];
  private rateTimer?: NodeJS.Timeout;
  readonly stats: SwarmStats;

  constructor(private readonly options: SwarmOptions) {
    this.random = options.random ?? Math.random;
    this.stats = {
      size: options.size,
      connected: 0,
      joined: 0,
      left: 0,
      switches: 0,
      tweets: 0,
      tweetsPerS: 0,
      redirects: 0,
      reconnects: 0,
      watching: new Map(),
    };
  }

  start(): void {
    const ramp = this.options.rampMs ?? 3000;
    for (let i = 0; i < this.options.size; i++)
      this.later(() => this.join(), (ramp * i) / Math.max(1, this.options.size));
    this.rateTimer = setInterval(() => this.sampleRate(), 1000);
    this.rateTimer.unref();
  }

  private later(fn: () => void, ms: number): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.stopped) fn();
    }, ms);
    this.timers.add(t);
  }

  private sampleRate(): void {
    const now = Date.now();
    this.rate.push({ at: now, tweets: this.stats.tweets });
    while (this.rate.length > 5) this.rate.shift();
    const first = this.rate[0]!;
    const dt = (now - first.at) / 1000;
    this.stats.tweetsPerS = dt > 0 ? Math.round((this.stats.tweets - first.tweets) / dt) : 0;
  }

  /** a movie from the ranking, the top ones more likely (the long tail still gets a few viewers) */
  private pick(ranking: RankedMovie[], not?: number): RankedMovie | undefined {
    const choices = ranking.slice(0, 30).filter((m) => m.id !== not);
    if (choices.length === 0) return undefined;
    const i = Math.floor(choices.length * this.random() ** 2.2);
    return choices[Math.min(i, choices.length - 1)];
  }

  private watch(m: Member, movie: RankedMovie | undefined): void {
    if (m.movie !== undefined) {
      const n = (this.stats.watching.get(m.movie) ?? 1) - 1;
      if (n > 0) this.stats.watching.set(m.movie, n);
      else this.stats.watching.delete(m.movie);
    }
    m.movie = movie?.id;
    if (movie) {
      this.stats.watching.set(movie.id, (this.stats.watching.get(movie.id) ?? 0) + 1);
      m.client.startFeed(movie.id);
    }
  }

  private join(): void {
    const n = ++this.seq;
    const client = new FilmgrainClient({
      endpoints: this.options.endpoints,
      app: 'filmgrain-demo',
      version: '1.0.0',
      platform: n % 3 === 0 ? 'android' : 'ios',
      backoff: { initialMs: 200, maxMs: 3000 },
    });
    const m: Member = { n, client, ranking: [], live: false, joined: false };
    this.members.add(m);
    client.on('set_movies', (p) => {
      m.ranking = p.movies;
      if (!m.live) {
        m.live = true;
        this.stats.connected++;
        if (!m.joined) {
          m.joined = true;
          this.stats.joined++;
          const movie = this.pick(p.movies);
          this.watch(m, movie);
          this.options.log?.info(
            { endpoint: `${client.endpoint?.host}:${client.endpoint?.port}` },
            `client ${n} connected and watches ${movie?.title ?? 'nothing yet'}`,
          );
        }
        this.schedule(m);
      }
    });
    client.on('post_tweet', () => {
      this.stats.tweets++;
    });
    client.on('redirect', (r) => {
      this.stats.redirects++;
      this.options.log?.info(
        { to: `${r.host}:${r.port}`, reason: r.reason },
        `client ${n} moved to another endpoint`,
      );
    });
    client.on('disconnected', ({ reason }) => {
      if (m.live) {
        m.live = false;
        this.stats.connected--;
      }
      if (!this.stopped && reason !== 'redirected') {
        this.stats.reconnects++;
        this.options.log?.warn({ reason }, `client ${n} lost its connection; reconnecting`);
      }
    });
    client.on('list_error', (err) =>
      this.options.log?.warn({ client: n, err: err.message }, 'endpoint list unavailable'),
    );
    client.start().catch((err) => {
      this.options.log?.warn({ client: n, err: (err as Error).message }, `client ${n} could not start`);
      this.leave(m, 'could not start');
      this.later(() => this.join(), 1000 + this.random() * 2000);
    });
  }

  private schedule(m: Member): void {
    const mean = (this.options.meanDwellS ?? 8) * 1000;
    // exponential dwell time, at least a second
    const dwell = Math.max(1000, -Math.log(1 - this.random()) * mean);
    clearTimeout(m.timer);
    m.timer = setTimeout(() => this.move(m), dwell);
    m.timer.unref();
  }

  private move(m: Member): void {
    if (this.stopped || !this.members.has(m)) return;
    if (this.random() < (this.options.leaveChance ?? 0.15)) {
      this.options.log?.info(`client ${m.n} closed the app`);
      this.leave(m, 'left');
      this.later(() => this.join(), 1000 + this.random() * 3000);
      return;
    }
    const prev = m.movie;
    const next = this.pick(m.ranking, prev);
    if (next && m.live) {
      this.watch(m, next);
      this.stats.switches++;
      this.options.log?.info(`client ${m.n} switched to ${next.title}`);
    }
    this.schedule(m);
  }

  private leave(m: Member, why: string): void {
    if (!this.members.delete(m)) return;
    clearTimeout(m.timer);
    this.watch(m, undefined);
    if (m.live) {
      m.live = false;
      this.stats.connected--;
    }
    if (why === 'left') this.stats.left++;
    m.client.removeAllListeners();
    m.client.close();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.rateTimer);
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const m of [...this.members]) this.leave(m, 'stop');
  }
}
