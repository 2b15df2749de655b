// The ssh provider: the hosts listed under ssh.hosts, each running one process of every role it lists.
// Releases get there with `god deploy`; up/down/restart drive the processes through each host's agent.
import type { Role } from '../../../protocol/redis-contract.ts';
import { UserError } from '../../../roles/runtime/errors.ts';
import type { GodConfig } from '../config/schema.ts';
import {
  deployHostsFrom,
  expandPath,
  expectedOf,
  remoteProcesses,
  sshOptionsFrom,
} from '../deploy/remote-fleet.ts';
import type { DeployHost } from '../deploy/types.ts';
import type { EventSink } from '../events.ts';
import { SshPool } from '../ssh/pool.ts';
import type { SshOptions } from '../ssh/types.ts';
import type { ExpectedProcess, Machine, Provider, ProviderContext, ProviderFactory } from './types.ts';

/** What `god deploy` / `god rollback` need from a provider whose hosts are reached over SSH. */
export interface RemoteProvider extends Provider {
  readonly kind: 'ssh' | 'ec2';
  deployHosts(): Promise<DeployHost[]>;
  sshOptions(): SshOptions;
  concurrency(): number;
}

export function isRemoteProvider(p: Provider): p is RemoteProvider {
  return typeof (p as RemoteProvider).deployHosts === 'function';
}

export class SshProvider implements RemoteProvider {
  readonly kind = 'ssh' as const;
  private readonly pool: SshPool;
  private readonly ssh: SshOptions;

  constructor(
    private readonly config: GodConfig,
    private readonly events: EventSink,
    baseDir: string,
    env: NodeJS.ProcessEnv = process.env,
  ) {
    if (!config.ssh || config.ssh.hosts.length === 0) {
      throw new UserError('provider ssh needs hosts under ssh.hosts', {
        code: 'GOD_CONFIG',
        hint: 'List the hosts (name, address, roles) under ssh.hosts in god.config.yaml; see god/examples/.',
      });
    }
    this.ssh = sshOptionsFrom(config, baseDir, env);
    this.pool = new SshPool(this.ssh);
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
  private readonly hostsCache: DeployHost[];

  async deployHosts(): Promise<DeployHost[]> {
    return this.hostsCache;
  }
  sshOptions(): SshOptions {
    return this.ssh;
  }
  concurrency(): number {
    return this.config.ssh?.concurrency ?? 10;
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
    const withRole = this.hostsCache.filter((h) => h.processes.some((p) => p.role === role));
    if (count > withRole.length) {
      throw new UserError(`only ${withRole.length} host(s) list ${role} in ssh.hosts; cannot run ${count}`, {
        code: 'GOD_CAPACITY',
        hint: `Add hosts with role ${role} to ssh.hosts in god.config.yaml, or ask for at most ${withRole.length}.`,
      });
    }
    const o = { concurrency: this.concurrency(), events: this.events, target: { role } };
    if (count > 0) await remoteProcesses('start', withRole.slice(0, count), this.pool, o);
    if (count < withRole.length) await remoteProcesses('stop', withRole.slice(count), this.pool, o);
  }

  async down(target?: { role?: Role; ids?: string[] }): Promise<void> {
    await remoteProcesses('stop', this.hostsCache, this.pool, {
      target,
      concurrency: this.concurrency(),
      events: this.events,
    });
  }

  async restart(target?: { role?: Role; ids?: string[] }): Promise<void> {
    await remoteProcesses('restart', this.hostsCache, this.pool, {
      target,
      concurrency: this.concurrency(),
      events: this.events,
    });
  }

  async redisUrl(): Promise<string | undefined> {
    return this.config.redis.url;
  }

  async close(): Promise<void> {
    await this.pool.closeAll();
  }
}

export const createProvider: ProviderFactory = (ctx: ProviderContext) =>
  new SshProvider(ctx.config, ctx.events, ctx.baseDir, ctx.env);
