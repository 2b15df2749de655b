// Shapes shared by deploy, rollback and the ssh/ec2 providers.
import type { Redis } from 'ioredis';
import type { RedisContract, Role } from '../../../protocol/redis-contract.ts';
import type { EventSink } from '../events.ts';
import type { SshPool } from '../ssh/pool.ts';
import type { SshOptions, SshTarget } from '../ssh/types.ts';

/** One role process a host should run. */
export interface ProcessSpec {
  role: Role;
  /** FG_ID: unique in the fleet */
  id: string;
  /** FG_* environment of the process (FG_RELEASE is set by the deploy) */
  env: Record<string, string>;
  /** for endpoints: where the health check connects (default: the host's address) */
  endpoint?: { host?: string; port: number; tls?: boolean };
  /** the config's secrets for this process (variable → value), resolved at deploy time; only in its env file */
  secretEnv?: Record<string, string>;
}

export interface DeployHost extends SshTarget {
  /** where releases/, current, run/ and logs/ live on the host */
  baseDir: string;
  /** the unprivileged user the roles run as (created by the agent on first deploy; default RUN_AS_DEFAULT) */
  runAs?: string;
  /** unused: a release carries its own Node (runtime.ts); kept for configs that still set ssh.node_path */
  nodeBin?: string;
  processes: ProcessSpec[];
}

/** The fleet user when the config names none (`ssh.run_as`). */
export const RUN_AS_DEFAULT = 'filmgrain';

/** systemd where the host has it and we are root, else our own supervisor */
export type ProcessMode = 'auto' | 'systemd' | 'supervisor';

/** What a deploy and a rollback both take. */
export interface RemoteRunOptions {
  hosts: DeployHost[];
  ssh?: SshOptions;
  /** share connections with other services (closed by its owner) */
  pool?: SshPool;
  redis: Redis;
  keys: RedisContract;
  /** only these roles, on the hosts that run them */
  roles?: Role[];
  concurrency?: number;
  dryRun?: boolean;
  /** releases kept per host (default 5) */
  keep?: number;
  mode?: ProcessMode;
  healthTimeoutMs?: number;
  /** skip health checks (benchmarks comparing plain copy+restart) */
  noHealth?: boolean;
  lockTtlMs?: number;
  /** wait this long for a lock another run holds instead of failing at once (`--lock-wait`) */
  lockWaitMs?: number;
  owner?: string;
  /** how long a process may take to stop before it is killed (default 15 s) */
  killMs?: number;
  events?: EventSink;
}

export type HostStatus = 'deployed' | 'unchanged' | 'failed' | 'rolled_back' | 'skipped' | 'planned';

export interface HostResult {
  host: string;
  status: HostStatus;
  ok: boolean;
  error?: string;
  code?: string;
  hint?: string;
  /** release before this deploy, and the one running now */
  previous?: string | null;
  current?: string | null;
  uploaded: string[];
  reused: string[];
  unchanged: string[];
  bytes: number;
  restarted: string[];
  /** the Node runtime of the release on this host (node-v24.22.3-linux-x64) */
  runtime?: string;
  /** this deploy uploaded and installed it */
  runtimeInstalled?: boolean;
  ms: number;
}

export interface DeployResult {
  version: string;
  ok: boolean;
  dryRun: boolean;
  batches: string[][];
  hosts: HostResult[];
  /** set when a failed health check stopped the rollout */
  stoppedAtBatch?: number;
  ms: number;
}
