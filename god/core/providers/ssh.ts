// The ssh provider: the hosts listed under ssh.hosts, each running every role it lists (`roles.<role>.processes` of each).
// Releases get there with `god deploy`; up/down/restart drive the processes through each host's agent.
import type { Role } from '../../../protocol/redis-contract.ts';
import { UserError } from '../../../kernel/errors.ts';
import type { GodConfig } from '../config/schema.ts';
import { deployHostsFrom, expandPath, expectedOf } from '../deploy/remote-fleet.ts';
import type { DeployHost } from '../deploy/types.ts';
import type { EventSink } from '../events.ts';
import { RemoteFleetProvider, type Target } from './remote.ts';
import type {
  ExpectedProcess,
  Machine,
  PlannedChange,
  PlanOp,
  ProviderContext,
  ProviderFactory,
} from './types.ts';

export class SshProvider extends RemoteFleetProvider {
  readonly kind = 'ssh' as const;
  private readonly hostsCache: DeployHost[];

  constructor(config: GodConfig, events: EventSink, baseDir: string, env: NodeJS.ProcessEnv = process.env) {
    if (!config.ssh || config.ssh.hosts.length === 0) {
      throw new UserError('provider ssh needs hosts under ssh.hosts', {
        code: 'GOD_CONFIG',
        hint: 'List the hosts (name, address, roles) under ssh.hosts in god.config.yaml; see god/examples/.',
      });
    }
    super(config, events, baseDir, env);
    // base_dir of a host may be relative to the config file
    this.hostsCache = deployHostsFrom(
      config,
      config.ssh.hosts.map((h) => ({
        name: h.name,
        address: h.address,
        port: h.port,
        user: h.user,
        roles: h.roles,
        baseDir: h.base_dir ? expandPath(h.base_dir, baseDir) : undefined,
      })),
    );
  }

  async deployHosts(): Promise<DeployHost[]> {
    return this.withSecrets(this.hostsCache);
  }

  async machines(): Promise<Machine[]> {
    return this.hostsCache.map((h) => ({
      provider: 'ssh',
      id: h.name,
      name: h.name,
      address: h.address,
      port: h.port,
      state: 'listed',
      roles: [...new Set(h.processes.map((p) => p.role))],
    }));
  }

  async expected(): Promise<ExpectedProcess[]> {
    return expectedOf(this.hostsCache);
  }

  /**
   * Each host listed with `role` runs one; `count` picks the first `count` of them (in inventory order)
   * and stops the role on the others.
   */
  async up(role: Role, count: number): Promise<void> {
    const { start, stop } = this.upSplit(role, count);
    if (start.length) await this.processes('start', start, { role });
    if (stop.length) await this.processes('stop', stop, { role });
  }

  async down(target?: Target): Promise<void> {
    await this.processes('stop', this.hostsCache, target);
  }

  /** Only what would change: processes that run are not started again, ones that do not are not stopped. */
  async plan(op: PlanOp): Promise<PlannedChange[]> {
    switch (op.op) {
      case 'up': {
        const { start, stop } = this.upSplit(op.role, op.count);
        return [
          ...(start.length ? await this.planOnHosts('start', start, { role: op.role }) : []),
          ...(stop.length ? await this.planOnHosts('stop', stop, { role: op.role }) : []),
        ];
      }
      case 'down':
        return this.planOnHosts('stop', this.hostsCache, op.target);
      case 'restart':
        return this.planOnHosts('restart', this.hostsCache, op.target);
      case 'deploy':
        return this.planOnHosts('deploy', this.hostsCache, op.target, op.version);
    }
  }

  /** `count` of the hosts listed with `role` (inventory order) run it, the others stop it. */
  private upSplit(role: Role, count: number): { start: DeployHost[]; stop: DeployHost[] } {
    const withRole = this.hostsCache.filter((h) => h.processes.some((p) => p.role === role));
    if (count > withRole.length) {
      throw new UserError(`only ${withRole.length} host(s) list ${role} in ssh.hosts; cannot run ${count}`, {
        code: 'GOD_CAPACITY',
        hint: `Add hosts with role ${role} to ssh.hosts in god.config.yaml, or ask for at most ${withRole.length}.`,
      });
    }
    return { start: count > 0 ? withRole.slice(0, count) : [], stop: withRole.slice(count) };
  }

  // ---- capabilities (see Provider) ----
  /** the inventory lists every host's processes, running or not */
  readonly listsStoppedProcesses = true;
}

export const createProvider: ProviderFactory = (ctx: ProviderContext) =>
  new SshProvider(ctx.config, ctx.events, ctx.baseDir, ctx.env);
