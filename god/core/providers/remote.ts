// What the ssh and ec2 providers share: hosts reached over SSH (one connection pool, the config's ssh
// settings), processes started, stopped and restarted through each host's agent. Each says which hosts it has.
import type { Role } from '../../../protocol/redis-contract.ts';
import type { GodConfig } from '../config/schema.ts';
import { remoteProcesses, selectOnHosts, sshOptionsFrom } from '../deploy/remote-fleet.ts';
import type { DeployHost } from '../deploy/types.ts';
import type { EventSink } from '../events.ts';
import { attachSecrets } from '../secrets/hosts.ts';
import { type ResolvedSecret, resolveSecrets } from '../secrets/resolve.ts';
import { SshPool } from '../ssh/pool.ts';
import type { SshOptions } from '../ssh/types.ts';
import { planDeploy, planProcesses, readHostStates } from './remote-plan.ts';
import { readState } from '../deploy/remote-state.ts';
import { mapLimit } from '../deploy/util.ts';
import type { ExpectedProcess, LastExit, Machine, PlannedChange, PlanOp, RemoteProvider } from './types.ts';

export type Target = { role?: Role; ids?: string[] };

export abstract class RemoteFleetProvider implements RemoteProvider {
  abstract readonly kind: 'ssh' | 'ec2';
  protected readonly ssh: SshOptions;
  protected readonly pool: SshPool;
  private secretsP?: Promise<ResolvedSecret[]>;

  constructor(
    protected readonly config: GodConfig,
    protected readonly events: EventSink,
    private readonly secretsBaseDir: string,
    private readonly secretsEnv: NodeJS.ProcessEnv,
  ) {
    this.ssh = sshOptionsFrom(config, secretsBaseDir, secretsEnv);
    this.pool = new SshPool(this.ssh);
  }

  /** The config's secret values, resolved once per command (God's env, .god/secrets, AWS): god/core/secrets. */
  protected secrets(): Promise<ResolvedSecret[]> {
    this.secretsP ??= resolveSecrets({
      config: this.config,
      baseDir: this.secretsBaseDir,
      env: this.secretsEnv,
    }).then((all) => {
      if (all.length) {
        const secrets = all.map(({ name, source, ref, roles }) => ({ name, source, ref, roles }));
        this.events.emit({
          type: 'info',
          message: `secrets: ${secrets.map((x) => `${x.name} from ${x.ref}`).join(', ')}`,
          data: { secrets },
        });
      }
      return all;
    });
    return this.secretsP;
  }

  /** `hosts` with each process's secrets, for what writes process specs on the hosts (deploy, start). */
  protected async withSecrets(hosts: DeployHost[]): Promise<DeployHost[]> {
    return attachSecrets(hosts, await this.secrets());
  }

  /** the hosts a deploy reaches now (ec2: the running instances) */
  abstract deployHosts(): Promise<DeployHost[]>;
  abstract machines(): Promise<Machine[]>;
  abstract expected(): Promise<ExpectedProcess[]>;
  abstract up(role: Role, count: number): Promise<void>;
  abstract down(target?: Target): Promise<void>;
  abstract plan(op: PlanOp): Promise<PlannedChange[]>;

  /** each host's run/<id>.state files, read with the deploy state's one read-only command */
  async supervision(): Promise<Map<string, { restarts: number; last_exit: LastExit | null }>> {
    const out = new Map<string, { restarts: number; last_exit: LastExit | null }>();
    await mapLimit(await this.deployHosts(), this.concurrency(), async (h) => {
      try {
        const st = await readState(await this.pool.get(h), h, undefined, false);
        for (const [id, v] of st.supervision) out.set(id, v);
      } catch {
        this.pool.drop(h); // status shows the host's processes without it; its heartbeats tell the rest
      }
    });
    return out;
  }

  sshOptions(): SshOptions {
    return this.ssh;
  }
  concurrency(): number {
    return this.config.ssh?.concurrency ?? 10;
  }

  /** start, stop or restart the (targeted) processes on `hosts` through their agents */
  protected async processes(
    action: 'start' | 'stop' | 'restart',
    hosts: DeployHost[],
    target?: Target,
  ): Promise<void> {
    // a start writes the processes' specs: they carry their secrets
    await remoteProcesses(action, action === 'start' ? await this.withSecrets(hosts) : hosts, this.pool, {
      target,
      concurrency: this.concurrency(),
      events: this.events,
    });
  }

  /**
   * What `processes(action, hosts, target)` (or, for 'deploy', a deploy of `version`) would change: reads the selected
   * hosts' state over SSH, read-only. Unknown ids fail here, before any host is reached, as they do in the op.
   */
  protected async planOnHosts(
    action: 'start' | 'stop' | 'restart' | 'deploy',
    hosts: DeployHost[],
    target?: Target,
    version?: string,
  ): Promise<PlannedChange[]> {
    const reached = selectOnHosts(hosts, target).map((x) => x.host);
    const states = await readHostStates(reached, this.pool, this.concurrency());
    return action === 'deploy'
      ? planDeploy(hosts, states, target, version)
      : planProcesses(action, hosts, states, target);
  }

  async restart(target?: Target): Promise<void> {
    await this.processes('restart', await this.deployHosts(), target);
  }

  async redisUrl(): Promise<string | undefined> {
    return this.config.redis.url;
  }

  async close(): Promise<void> {
    await this.pool.closeAll();
  }
}
