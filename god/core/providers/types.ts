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
/** How a supervised process last ended: its exit code, or the signal that killed it, and when. */
export const LastExitSchema = z.object({
  code: z.number().int().nullable(),
  signal: z.string().nullable(),
  at: z.string(),
});
export type LastExit = z.infer<typeof LastExitSchema>;

export const ExpectedProcessSchema = z.object({
  role: RoleSchema,
  /** the process id used in heartbeats (FG_ID) */
  id: z.string(),
  host: z.string(),
  /** what its supervisor recorded, when the provider knows it (local: state.json): restarts so far */
  restarts: z.number().int().optional(),
  last_exit: LastExitSchema.nullable().optional(),
});
export type ExpectedProcess = z.infer<typeof ExpectedProcessSchema>;

/** Which processes an operation touches: a role and/or ids, or everything (undefined). */
export const TargetSchema = z.object({ role: RoleSchema.optional(), ids: z.array(z.string()).optional() });
export type Target = z.infer<typeof TargetSchema>;

/** An operation a provider can plan before (or instead of, with --dry-run) doing it. */
export const PlanOpSchema = z.discriminatedUnion('op', [
  z.object({ op: z.literal('up'), role: RoleSchema, count: z.number().int().min(0) }),
  z.object({ op: z.literal('down'), target: TargetSchema.optional() }),
  z.object({ op: z.literal('restart'), target: TargetSchema.optional() }),
  /**
   * ship the current release to the target's hosts/processes and restart them; `version`: the release it
   * ships, when the caller has worked it out (the deploy service does, from the bundle)
   */
  z.object({ op: z.literal('deploy'), target: TargetSchema.optional(), version: z.string().optional() }),
]);
export type PlanOp = z.infer<typeof PlanOpSchema>;

/** What a change acts on: processes and machines for every provider, cloud resources for ec2. */
export const PLANNED_RESOURCES = [
  'process',
  'machine',
  'redis',
  'supervisor',
  'release',
  'security_group',
  'security_group_rule',
  'key_pair',
  'instance_profile',
  'iam_role',
  'subnet',
  'ami',
] as const;
export const PLANNED_ACTIONS = [
  'create',
  'start',
  'stop',
  'restart',
  'update',
  'upload',
  'terminate',
  'drain',
] as const;

/** One change an operation would make. `--dry-run`, the dashboard's confirm prompt and playbook plans print these. */
export const PlannedChangeSchema = z.object({
  action: z.enum(PLANNED_ACTIONS),
  resource: z.enum(PLANNED_RESOURCES),
  /** the process id, instance id, group name … the change is about */
  subject: z.string(),
  /** one line more for a human: "t3.small in eu-west-1b", "from 1.2.0 to 1.3.0" */
  detail: z.string().optional(),
  /** the inventory host it happens on (ssh): a playbook's deploy plan says it per host */
  host: z.string().optional(),
});
export type PlannedChange = z.infer<typeof PlannedChangeSchema>;

/** The one way a planned change reads in plain output: "start process endpoint-2 (port 7001)". */
export function describeChange(c: PlannedChange): string {
  return `${c.action} ${c.resource.replaceAll('_', ' ')} ${c.subject}${c.detail ? ` (${c.detail})` : ''}`;
}

export interface Provider {
  readonly kind: ProviderKind;
  machines(): Promise<Machine[]>;
  expected(): Promise<ExpectedProcess[]>;
  /** converge `role` to `count` processes/machines; idempotent */
  up(role: Role, count: number): Promise<void>;
  /** stop/terminate: a role, or given ids, or everything */
  down(target?: { role?: Role; ids?: string[] }): Promise<void>;
  restart(target?: { role?: Role; ids?: string[] }): Promise<void>;
  /**
   * The changes `op` would make, read-only (no instance started, no file written). Implemented by every
   * provider; `god … --dry-run`, confirm prompts and playbook plans all print this same list.
   */
  plan(op: PlanOp): Promise<PlannedChange[]>;
  /** The fleet's Redis when the provider runs its own (local: the private redis-server); else config redis.url. */
  redisUrl?(): Promise<string | undefined>;
  close(): Promise<void>;

  // ---- capabilities: what the provider says about itself, so that steps and services never test `kind` ----
  // Each is optional; absent means the common case named in its comment.
  /**
   * Restarts and last exit per process id as the hosts' supervisors recorded them (ssh/ec2: run/<id>.state,
   * read over SSH; a host that cannot be read is left out). `god status` calls it; a polling dashboard does
   * not. Absent: expected() carries them already (local) or nothing is known.
   */
  supervision?(): Promise<Map<string, { restarts: number; last_exit: LastExit | null }>>;
  /** False while the fleet as a whole is stopped (local: no supervisor runs). Absent: always running. */
  isRunning?(): Promise<boolean>;
  /**
   * expected() lists every process of an inventory whether it runs or not (ssh), so only the beating ones are
   * running; `up(role, count)` runs the role on the first `count` listed and stops it on the others.
   * Absent: expected() lists only what was started.
   */
  readonly listsStoppedProcesses?: boolean;
  /**
   * Processes live and die with a machine of their own (ec2: an instance, `roles.<role>.processes` on each;
   * ExpectedProcess.host names it): `up` creates or terminates machines, a down takes whole machines.
   */
  readonly machinePerProcess?: boolean;
  /**
   * What the fleet runs besides its role processes (local: a supervisor and a private redis-server), as a
   * playbook's plan says it: started with the first `up` (a `down` of everything stops it: its plan says so).
   * Absent: nothing.
   */
  readonly ownServices?: { start: string };
  /**
   * machines() and expected() only read local state (no cloud API call, no SSH), so a dashboard may poll them
   * every second. Absent: they cost a round trip; poll every 10 s.
   */
  readonly cheapListing?: boolean;
  /** Where the keeper archives when the config names no archive (local: file://STATE_DIR/archive). */
  defaultArchive?(): string | undefined;
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
