// What a running playbook step gets: the same provider, config, Redis and event bus the CLI commands use.
import type { GodConfig } from '../config/schema.ts';
import type { EventSink } from '../events.ts';
import type { Provider } from '../providers/types.ts';
import type { FleetRedis } from '../redis.ts';
import type { SshPool } from '../ssh/pool.ts';
import type { ClientGroups } from './clients.ts';

export interface PlayContext {
  provider: Provider;
  config: GodConfig;
  events: EventSink;
  dryRun: boolean;
  signal?: AbortSignal;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** epoch ms the play started (`since: play`) */
  startedAt: number;
  /** the fleet's Redis now (reconnects when the fleet's Redis moved, e.g. a local fleet started again) */
  redis(): Promise<FleetRedis>;
  /** the fleet's Redis if it can be reached now, else undefined (plans of a fleet that is down) */
  tryRedis(): Promise<FleetRedis | undefined>;
  /** shared SSH connections of remote providers (closed when the play ends) */
  pool(): SshPool;
  clients: ClientGroups;
}

/** What a step did (or, in a dry run, would do). */
export interface StepOutcome {
  changed: boolean;
  /** one line per change: "start endpoint-3", "host1: r1 → r2; restart ..." */
  changes: string[];
  /** what was checked or found, for the output */
  detail?: string;
}
