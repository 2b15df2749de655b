// What a running playbook step gets: the same provider, config, Redis and event bus the CLI commands use.
import type { GodConfig } from '../config/schema.ts';
import type { EventSink } from '../events.ts';
import type { Provider } from '../providers/types.ts';
import type { FleetRedis } from '../redis.ts';
import type { SshPool } from '../ssh/pool.ts';
import type { ClientGroups } from './clients.ts';
import type { PointMark } from './marks.ts';
import type { Step } from './schema.ts';

/** A process a `run` step was pointed at, as it beat just before the command ran. */
export interface TargetedProcess {
  role: string;
  id: string;
  host: string;
  pid: number | null;
  started_at: string | null;
}

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
  /** the play's steps (marks and `replaced` name earlier ones) and the index of the one running */
  steps: Step[];
  current?: number;
  /** on the fleet Redis's clock: the play's start, and the start/end of steps later steps name */
  marks: { play?: PointMark; steps: Map<number, { start?: PointMark; end?: PointMark }> };
  /** per `run` step index: the processes it was pointed at */
  targeted: Map<number, TargetedProcess[]>;
}

/** What a step did (or, in a dry run, would do). */
export interface StepOutcome {
  changed: boolean;
  /** one line per change: "start endpoint-3", "host1: r1 → r2; restart ..." */
  changes: string[];
  /** what was checked or found, for the output */
  detail?: string;
}
