// What a CLI command gets to run: the global flags, the config, the provider, the fleet's Redis, the event bus
// and the output — each made when first asked for. (What a command is: spec.ts.)
import { UserError } from '../../kernel/errors.ts';
import { type LoadedConfig, loadConfig } from '../core/config/load.ts';
import { EventBus } from '../core/events.ts';
import { createProvider } from '../core/providers/index.ts';
import type { Provider, ProviderContext } from '../core/providers/types.ts';
import { connectFleetRedis, type FleetRedis, resolveRedisUrl } from '../core/redis.ts';
import type { Output } from './output.ts';
import type { GlobalOptions } from './spec.ts';

export class CliContext {
  readonly events = new EventBus();
  private loadedConfig?: LoadedConfig;
  private providerP?: Promise<Provider>;
  private redisP?: Promise<FleetRedis>;
  private readonly abort = new AbortController();

  constructor(
    readonly opts: GlobalOptions,
    readonly out: Output,
    readonly env: NodeJS.ProcessEnv = process.env,
    readonly cwd: string = process.cwd(),
  ) {
    this.events.on((ev) => out.event(ev));
  }

  /** Aborted on SIGINT/SIGTERM: long commands (logs -f, run) stop cleanly. */
  get signal(): AbortSignal {
    return this.abort.signal;
  }
  cancel(): void {
    this.abort.abort();
  }

  get loaded(): LoadedConfig {
    this.loadedConfig ??= loadConfig(this.opts.config, this.cwd);
    return this.loadedConfig;
  }

  providerContext(): ProviderContext {
    const l = this.loaded;
    return {
      config: l.config,
      events: this.events,
      baseDir: l.baseDir,
      env: this.env,
      configFile: l.file,
      local: { stateDir: this.opts.stateDir, dist: this.opts.dist, cwd: this.cwd },
    };
  }

  provider(): Promise<Provider> {
    this.providerP ??= createProvider(this.providerContext());
    return this.providerP;
  }

  /** The fleet's Redis URL, if any is known (flag, provider, config). */
  async redisUrl(): Promise<string | undefined> {
    return resolveRedisUrl(this.loaded.config, await this.provider(), this.opts.redis);
  }

  redis(): Promise<FleetRedis> {
    this.redisP ??= (async () =>
      connectFleetRedis(await this.redisUrl(), {
        prefix: this.loaded.config.redis.prefix,
        tlsCa: this.loaded.config.redis.tls_ca,
      }))();
    return this.redisP;
  }

  async close(): Promise<void> {
    const r = this.redisP;
    this.redisP = undefined;
    if (r) await r.then((x) => x.close()).catch(() => {});
    const p = this.providerP;
    this.providerP = undefined;
    if (p) await p.then((x) => x.close()).catch(() => {});
  }
}

/** Parse a whole number flag or argument, naming it in the error. */
export function intArg(v: unknown, name: string, min = 0): number {
  const n = typeof v === 'number' ? v : Number(String(v));
  if (!Number.isInteger(n) || n < min) {
    throw new UserError(`${name} must be a whole number ≥ ${min} (got ${JSON.stringify(v)})`, {
      code: 'GOD_USAGE',
      hint: `Pass e.g. ${name} ${Math.max(min, 2)}.`,
    });
  }
  return n;
}
