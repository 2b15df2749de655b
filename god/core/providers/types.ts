// What every provider (local, ssh, ec2) offers God's services.
import { z } from 'zod';
import { type ProviderKind, ProviderKindSchema } from '../../../kernel/providers.ts';
import { type Role, RoleSchema } from '../../../protocol/redis-contract.ts';
import type { DeployHost } from '../deploy/types.ts';
import type { SshOptions } from '../ssh/types.ts';

/** A machine of the fleet (for local: this machine; for ec2: an instance); `god status --json` prints it as is. */
export const MachineSchema = z.object({
  provider: ProviderKindSchema,
  id: z.string(),
  name: z.string(),
  /** address God reaches it at (SSH) */
  address: z.string().optional(),
  port: z.number().int().optional(),
  state: z.string(),
  roles: z.array(RoleSchema),
  tags: z.record(z.string(), z.string()).optional(),
});
export type Machine = z.infer<typeof MachineSchema>;

/** A process the fleet should have, according to config/provider. */
export const ExpectedProcessSchema = z.object({
  role: RoleSchema,
  /** the process id used in heartbeats (FG_ID) */
  id: z.string(),
  host: z.string(),
});
export type ExpectedProcess = z.infer<typeof ExpectedProcessSchema>;

export interface Provider {
  readonly kind: ProviderKind;
  machines(): Promise<Machine[]>;
  expected(): Promise<ExpectedProcess[]>;
  /** converge `role` to `count` processes/machines; idempotent */
  up(role: Role, count: number): Promise<void>;
  /** stop/terminate: a role, or given ids, or everything */
  down(target?: { role?: Role; ids?: string[] }): Promise<void>;
  restart(target?: { role?: Role; ids?: string[] }): Promise<void>;
  /** The fleet's Redis when the provider runs its own (local: the private redis-server); else config redis.url. */
  redisUrl?(): Promise<string | undefined>;
  close(): Promise<void>;
}

/** What `god deploy` / `god rollback` need from a provider whose hosts are reached over SSH (ssh, ec2). */
export interface RemoteProvider extends Provider {
  readonly kind: 'ssh' | 'ec2';
  deployHosts(): Promise<DeployHost[]>;
  sshOptions(): SshOptions;
  concurrency(): number;
}

export function isRemoteProvider(p: Provider): p is RemoteProvider {
  return typeof (p as RemoteProvider).deployHosts === 'function';
}

/** What a provider factory gets: the parsed config, where to report, where relative paths start. */
export interface ProviderContext {
  config: import('../config/schema.ts').GodConfig;
  events: import('../events.ts').EventSink;
  /** folder of the config file (or the working dir): relative paths in the config start here */
  baseDir: string;
  env: NodeJS.ProcessEnv;
  /** absolute path of the config file, when there is one */
  configFile?: string;
  /** local provider: --state-dir / GOD_STATE_DIR, --dist / GOD_DIST, the working dir (.god/local is under it) */
  local?: { stateDir?: string; dist?: boolean; cwd?: string };
}

/** Each provider module (local.ts, ssh.ts, ec2.ts) exports `createProvider: ProviderFactory`. */
export type ProviderFactory = (ctx: ProviderContext) => Provider | Promise<Provider>;
