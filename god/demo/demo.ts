// `god demo`: the whole system on this machine — a private redis-server, a feeder on the synthetic source
// with the bundled catalog, two endpoints, a keeper archiving to a local folder and writing endpoints.json
// there, and a swarm of simulated mobile clients — watched in the dashboard, or run for a while headless
// with a summary at the end.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Role } from '../../protocol/redis-contract.ts';
import { ENDPOINT_LIST_FILE } from '../../protocol/endpoint-list.ts';
import { UserError } from '../../kernel/errors.ts';
// the swarm logs like a role: the runtime's logger and log sink, through its public entry
import { createLogger, type Logger, RedisLogSink } from '../../roles/runtime/index.ts';
import { type GodConfig, GodConfigSchema } from '../core/config/schema.ts';
import type { EventBus } from '../core/events.ts';
import { PACKAGE_ROOT, startLocalFleet, type LocalFleet } from '../core/local/fleet.ts';
import { fleetProvider } from '../core/providers/local.ts';
import { connectFleetRedis, type FleetRedis } from '../core/redis.ts';
import { joinStatus, type ProcessStatus, readHeartbeatView } from '../core/status.ts';
import { Swarm, type SwarmStats } from './swarm.ts';

export interface DemoSettings {
  /** simulated clients */
  clients: number;
  /** synthetic tweets per second */
  rate: number;
  /** movies of the bundled catalog the feeder knows (0: all of them) */
  catalogSize: number;
  /** keep the fleet's state (logs, archive) here; default a temporary folder removed at the end */
  stateDir?: string;
  events: EventBus;
}

export interface DemoSummary {
  ok: boolean;
  seconds: number;
  state_dir: string | null;
  archive: string;
  processes: Array<{
    role: string;
    id: string;
    state: ProcessStatus['state'];
    pid: number | null;
    cpu: number | null;
  }>;
  clients: {
    target: number;
    connected: number;
    joined: number;
    left: number;
    switches: number;
    redirects: number;
    /** the endpoints' own count */
    on_endpoints: number;
  };
  tweets: { feeder_per_s: number; matched_per_s: number; delivered_per_s: number; delivered_total: number };
  top_movies: Array<{ id: number; title: string; count: number; watching: number }>;
  archived_lines: number;
  problems: string[];
}

export const BUNDLED_CATALOG = path.join(PACKAGE_ROOT, 'data', 'movies.json');

/**
 * The catalog the demo's feeder matches: the whole bundled catalog (size 0, the default: the synthetic source
 * weights movies by popularity and makes some trend, so the ranking moves), or its first `size` movies written
 * into the state folder.
 */
export function demoCatalog(stateDir: string, size: number): string {
  if (size <= 0) return BUNDLED_CATALOG;
  const movies = JSON.parse(fs.readFileSync(BUNDLED_CATALOG, 'utf8')) as unknown[];
  const file = path.join(stateDir, 'demo-catalog.json');
  fs.writeFileSync(file, JSON.stringify(movies.slice(0, size)));
  return file;
}

/** The demo's fleet: the embedded defaults with the synthetic source and the bundled catalog. */
export function demoConfig(stateDir: string, rate: number, catalog: string = BUNDLED_CATALOG): GodConfig {
  const archive = `file://${path.join(stateDir, 'archive')}`;
  return GodConfigSchema.parse({
    provider: 'local',
    roles: {
      feeder: {
        count: 1,
        options: { source: 'synthetic', catalog, rate },
      },
      endpoint: { count: 2, options: { public_host: '127.0.0.1' } },
      keeper: {
        count: 1,
        // archive often so a short demo has something archived
        options: { archive, flush: '3s' },
        // endpoints.json right after the endpoints register, so the clients start soon (no config option for it)
        env: { FG_KEEPER_ENDPOINTS_INTERVAL: '1s' },
      },
    },
    local: { state_dir: stateDir, restart: { backoff_min: '300ms', backoff_max: '5s' }, stop_timeout: '5s' },
  });
}

export class Demo {
  fleet!: LocalFleet;
  fleetRedis!: FleetRedis;
  swarm?: Swarm;
  startedAt = Date.now();
  readonly stateDir: string;
  readonly archiveDir: string;
  private readonly tempState: boolean;
  private sink?: RedisLogSink;
  private swarmStart?: Promise<void>;
  private readonly abort = new AbortController();
  config!: GodConfig;

  constructor(readonly settings: DemoSettings) {
    this.tempState = !settings.stateDir;
    this.stateDir = settings.stateDir
      ? path.resolve(settings.stateDir)
      : fs.mkdtempSync(path.join(os.tmpdir(), 'god-demo-'));
    this.archiveDir = path.join(this.stateDir, 'archive');
  }

  get provider() {
    return fleetProvider(this.fleet, { config: this.config });
  }

  /** Redis, the roles, then (in the background) the swarm once the keeper has written endpoints.json. */
  async start(): Promise<void> {
    fs.mkdirSync(this.archiveDir, { recursive: true });
    this.config = demoConfig(
      this.stateDir,
      this.settings.rate,
      demoCatalog(this.stateDir, this.settings.catalogSize),
    );
    this.fleet = await startLocalFleet({
      config: this.config,
      events: this.settings.events,
      stateDir: this.stateDir,
      initial: 'config',
      baseDir: PACKAGE_ROOT,
    });
    this.fleetRedis = await connectFleetRedis(this.fleet.redisUrl, {
      prefix: this.config.redis.prefix,
      name: 'god-demo',
    });
    // the swarm logs like a role does: into the fleet's log stream (not to the terminal)
    const logRedis = this.fleetRedis.duplicate('swarm-logs');
    const host = os.hostname();
    this.sink = new RedisLogSink({
      redis: logRedis,
      stream: this.fleetRedis.keys.logStream,
      role: 'client',
      id: 'swarm',
      host,
    });
    const log = createLogger({
      role: 'client',
      id: 'swarm',
      host,
      level: 'info',
      sink: this.sink,
      stdout: { write() {} },
    });
    this.swarmStart = this.startSwarm(log).catch((err) =>
      this.settings.events.emit({
        type: 'error',
        message: `the client swarm did not start: ${(err as Error).message}`,
      }),
    );
  }

  private async startSwarm(log: Logger): Promise<void> {
    const file = path.join(this.archiveDir, ENDPOINT_LIST_FILE);
    const until = Date.now() + 60_000;
    // endpoints.json exists once the keeper saw the endpoints register (and lists at least one)
    while (!this.abort.signal.aborted) {
      try {
        if (JSON.parse(fs.readFileSync(file, 'utf8')).endpoints.length > 0) break;
      } catch {
        // not written yet
      }
      if (Date.now() > until) throw new Error(`${file} did not appear within 60 s; see the keeper's log`);
      await new Promise((r) => setTimeout(r, 200));
    }
    if (this.abort.signal.aborted) return;
    this.swarm = new Swarm({ endpoints: file, size: this.settings.clients, log });
    this.swarm.start();
    this.settings.events.emit({
      type: 'info',
      message: `${this.settings.clients} simulated clients connecting through ${file}`,
    });
  }

  /** Resolves once every role process beats and the swarm has started; throws after `timeoutMs`. */
  async ready(timeoutMs = 120_000, signal?: AbortSignal): Promise<void> {
    const until = Date.now() + timeoutMs;
    // the summary's seconds count from here: the time the system really ran
    let last = '';
    while (!signal?.aborted) {
      const view = await readHeartbeatView(this.fleetRedis).catch(() => undefined);
      const { processes } = joinStatus(this.fleet.expected(), view);
      const waiting = processes.filter((p) => p.state !== 'up').map((p) => p.id);
      if (waiting.length === 0 && this.swarm) {
        this.startedAt = Date.now();
        return;
      }
      const what = waiting.length ? `waiting for ${waiting.join(', ')}` : 'waiting for endpoints.json';
      if (what !== last) this.settings.events.emit({ type: 'info', message: what });
      last = what;
      if (Date.now() > until) {
        throw new UserError(
          `the demo fleet did not come up within ${Math.round(timeoutMs / 1000)} s (${what})`,
          {
            code: 'GOD_DEMO',
            hint: `The role logs are in ${path.join(this.stateDir, 'logs')} (pass --state-dir to keep them).`,
          },
        );
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  async summary(): Promise<DemoSummary> {
    const expected = this.fleet.expected();
    const view = await readHeartbeatView(this.fleetRedis).catch(() => undefined);
    const { processes } = joinStatus(expected, view);
    const gauge = (role: Role, name: string) =>
      processes.filter((p) => p.role === role).reduce((sum, p) => sum + (p.gauges[name] ?? 0), 0);
    const raw = await this.fleetRedis.redis.get(this.fleetRedis.keys.ranking).catch(() => null);
    const ranking = raw
      ? (JSON.parse(raw) as { movies: Array<{ id: number; title: string; count: number }> })
      : { movies: [] };
    const stats: SwarmStats | undefined = this.swarm?.stats;
    const problems: string[] = [];
    for (const p of processes) if (p.state !== 'up') problems.push(`${p.id} is ${p.state}`);
    if (!stats || stats.joined === 0) problems.push('no simulated client got a session');
    if (ranking.movies.length === 0) problems.push('the feeder published no ranking');
    return {
      ok: problems.length === 0,
      seconds: Math.round((Date.now() - this.startedAt) / 1000),
      state_dir: this.tempState ? null : this.stateDir,
      archive: `file://${this.archiveDir}`,
      processes: processes.map((p) => ({ role: p.role, id: p.id, state: p.state, pid: p.pid, cpu: p.cpu })),
      clients: {
        target: this.settings.clients,
        connected: stats?.connected ?? 0,
        joined: stats?.joined ?? 0,
        left: stats?.left ?? 0,
        switches: stats?.switches ?? 0,
        redirects: stats?.redirects ?? 0,
        on_endpoints: gauge('endpoint', 'clients'),
      },
      tweets: {
        feeder_per_s: gauge('feeder', 'tweets_per_s'),
        matched_per_s: gauge('feeder', 'matched_per_s'),
        delivered_per_s: stats?.tweetsPerS ?? 0,
        delivered_total: stats?.tweets ?? 0,
      },
      top_movies: ranking.movies.slice(0, 5).map((m) => ({ ...m, watching: stats?.watching.get(m.id) ?? 0 })),
      archived_lines: gauge('keeper', 'archived_total'),
      problems,
    };
  }

  /** Clients, then the roles and Redis; the temporary state folder goes too. Safe to call twice. */
  private stopping?: Promise<void>;
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.abort.abort();
      await this.swarmStart;
      await this.swarm?.stop();
      await this.sink?.drain(1000);
      this.sink?.close();
      this.fleetRedis?.close();
      await this.fleet?.stop();
      if (this.tempState) fs.rmSync(this.stateDir, { recursive: true, force: true });
    })();
    return this.stopping;
  }
}
