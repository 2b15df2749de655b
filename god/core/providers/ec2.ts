// The ec2 provider: instances tagged project/fleet/role, one role process per instance, reached over SSH
// like the ssh provider. `up` converges a role's instance count (pending + running count, never duplicates),
// `down` terminates by role, id or the whole fleet.
import { createHash } from 'node:crypto';
import {
  DescribeInstancesCommand,
  EC2Client,
  type Filter,
  type Instance,
  RunInstancesCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { type Role, RoleSchema } from '../../../protocol/redis-contract.ts';
import { durationMs } from '../../../kernel/units.ts';
import { UserError } from '../../../kernel/errors.ts';
import type { Ec2Config, GodConfig } from '../config/schema.ts';
import { deployHostsFrom, expandPath, type RemoteHostSpec } from '../deploy/remote-fleet.ts';
import type { DeployHost } from '../deploy/types.ts';
import { type EventSink, nullSink } from '../events.ts';
import { RemoteFleetProvider, type Target } from './remote.ts';
import type { ExpectedProcess, Machine, ProviderContext, ProviderFactory } from './types.ts';
import { sleep } from '../../../kernel/sleep.ts';

export const PROJECT_TAG = 'filmgrain';
const LIVE = ['pending', 'running'];

/** Where God reaches an instance: its address, or a mapping (tests map moto's fake IPs to loopback sshd hosts). */
export interface AddressMapEntry {
  address: string;
  port?: number;
  base_dir?: string;
}
export type AddressMap = Record<string, AddressMapEntry>;

/** GOD_EC2_ADDRESS_MAP: JSON {"<ip or instance id>": {"address", "port"?, "base_dir"?} | "addr[:port]"}. */
export function parseAddressMap(text: string | undefined): AddressMap {
  if (!text) return {};
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new UserError(`GOD_EC2_ADDRESS_MAP is not JSON: ${(err as Error).message}`, {
      code: 'GOD_CONFIG',
      hint: 'Give a JSON object: {"10.0.0.5": {"address": "127.0.0.2", "port": 2222}}.',
    });
  }
  const out: AddressMap = {};
  for (const [k, v] of Object.entries((raw ?? {}) as Record<string, unknown>)) {
    if (typeof v === 'string') {
      const [address, port] = v.split(':');
      out[k] = { address: address!, port: port ? Number(port) : undefined };
    } else if (v && typeof v === 'object' && typeof (v as AddressMapEntry).address === 'string') {
      out[k] = v as AddressMapEntry;
    } else {
      throw new UserError(
        `GOD_EC2_ADDRESS_MAP["${k}"] must be "addr[:port]" or {"address", "port"?, "base_dir"?}`,
        {
          code: 'GOD_CONFIG',
          hint: 'Fix the mapping entry named above.',
        },
      );
    }
  }
  return out;
}

const tagOf = (i: Instance, k: string) => i.Tags?.find((t) => t.Key === k)?.Value;
const roleOf = (i: Instance): Role | undefined => {
  const r = RoleSchema.safeParse(tagOf(i, 'role'));
  return r.success ? r.data : undefined;
};

export interface Ec2ProviderOptions {
  client?: EC2Client;
  addressMap?: AddressMap;
  /** poll interval while waiting for instance states (default 2 s; tests use less) */
  pollMs?: number;
}

export class Ec2Provider extends RemoteFleetProvider {
  readonly kind = 'ec2' as const;
  readonly client: EC2Client;
  private readonly ec2: Ec2Config;

  constructor(
    config: GodConfig,
    private readonly ctx: Pick<ProviderContext, 'baseDir' | 'env'> & { events?: EventSink },
    private readonly o: Ec2ProviderOptions = {},
  ) {
    if (!config.ec2) {
      throw new UserError('provider ec2 needs an ec2 section', {
        code: 'GOD_CONFIG',
        hint: 'Add ec2: (region, ami, key_pair, security_group...) to god.config.yaml; see god/examples/.',
      });
    }
    super(config, ctx.events ?? nullSink, ctx.baseDir, ctx.env);
    this.ec2 = config.ec2;
    const endpoint = this.ec2.endpoint ?? ctx.env.AWS_ENDPOINT_URL_EC2 ?? ctx.env.AWS_ENDPOINT_URL;
    this.client = o.client ?? new EC2Client({ region: this.ec2.region, ...(endpoint ? { endpoint } : {}) });
  }

  private filters(role?: Role, states?: string[]): Filter[] {
    const f: Filter[] = [
      { Name: 'tag:project', Values: [PROJECT_TAG] },
      { Name: 'tag:fleet', Values: [this.ec2.fleet] },
    ];
    if (role) f.push({ Name: 'tag:role', Values: [role] });
    if (states) f.push({ Name: 'instance-state-name', Values: states });
    return f;
  }

  /** The fleet's instances (default: every state but terminated). */
  async instances(
    role?: Role,
    states = ['pending', 'running', 'stopping', 'stopped', 'shutting-down'],
  ): Promise<Instance[]> {
    const out: Instance[] = [];
    let token: string | undefined;
    try {
      do {
        const r = await this.client.send(
          new DescribeInstancesCommand({ Filters: this.filters(role, states), NextToken: token }),
        );
        for (const res of r.Reservations ?? []) out.push(...(res.Instances ?? []));
        token = r.NextToken;
      } while (token);
    } catch (err) {
      throw awsError(err, 'list instances');
    }
    return out.sort(
      (a, b) =>
        (a.LaunchTime?.getTime() ?? 0) - (b.LaunchTime?.getTime() ?? 0) ||
        String(a.InstanceId).localeCompare(String(b.InstanceId)),
    );
  }

  private addressMap(): AddressMap {
    return { ...parseAddressMap(this.ctx.env.GOD_EC2_ADDRESS_MAP), ...(this.o.addressMap ?? {}) };
  }

  private hostSpec(i: Instance, map: AddressMap): RemoteHostSpec | undefined {
    const role = roleOf(i);
    const ip = i.PublicIpAddress ?? i.PrivateIpAddress;
    if (!role || !i.InstanceId || !ip) return undefined;
    const m = map[i.InstanceId] ?? map[ip];
    return {
      name: i.InstanceId,
      address: m?.address ?? ip,
      port: m?.port ?? 22,
      roles: [role],
      baseDir: m?.base_dir ? expandPath(m.base_dir, this.ctx.baseDir) : undefined,
    };
  }

  async deployHosts(): Promise<DeployHost[]> {
    const map = this.addressMap();
    const specs = (await this.instances(undefined, ['running']))
      .map((i) => this.hostSpec(i, map))
      .filter((x): x is RemoteHostSpec => !!x);
    return deployHostsFrom(this.config, specs);
  }

  async machines(): Promise<Machine[]> {
    const map = this.addressMap();
    return (await this.instances()).map((i) => {
      const h = this.hostSpec(i, map);
      return {
        provider: 'ec2' as const,
        id: i.InstanceId ?? '?',
        name: tagOf(i, 'Name') ?? i.InstanceId ?? '?',
        address: h?.address ?? i.PublicIpAddress ?? i.PrivateIpAddress,
        port: h?.port,
        state: i.State?.Name ?? 'unknown',
        roles: roleOf(i) ? [roleOf(i)!] : [],
        tags: Object.fromEntries((i.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? ''])),
      };
    });
  }

  async expected(): Promise<ExpectedProcess[]> {
    const specs = (await this.instances(undefined, LIVE))
      .map((i) => ({ role: roleOf(i), id: i.InstanceId }))
      .filter((x): x is { role: Role; id: string } => !!x.role && !!x.id);
    return specs.map((s) => ({ role: s.role, id: `${s.role}-${s.id}`, host: s.id }));
  }

  /** Converge `role` to `count` instances (pending + running), then wait until they run. */
  async up(role: Role, count: number): Promise<void> {
    const live = await this.instances(role, LIVE);
    for (const i of live)
      this.events.emit({
        type: 'machine',
        action: 'exists',
        id: i.InstanceId!,
        role,
        address: i.PublicIpAddress ?? i.PrivateIpAddress,
      });
    if (live.length < count) {
      const n = count - live.length;
      const tags = [
        ...Object.entries(this.ec2.tags).map(([Key, Value]) => ({ Key, Value })),
        { Key: 'project', Value: PROJECT_TAG },
        { Key: 'fleet', Value: this.ec2.fleet },
        { Key: 'role', Value: role },
        { Key: 'Name', Value: `${this.ec2.fleet}-${role}` },
      ];
      // the same request retried (God crashed mid-call) must not launch twice
      const token = createHash('sha256')
        .update(`${this.ec2.fleet}/${role}/${count}/${live.map((i) => i.InstanceId).join(',')}`)
        .digest('hex')
        .slice(0, 60);
      try {
        const r = await this.client.send(
          new RunInstancesCommand({
            ImageId: this.ec2.ami,
            InstanceType: (this.ec2.instance_types[role] ?? this.ec2.instance_type) as never,
            MinCount: n,
            MaxCount: n,
            KeyName: this.ec2.key_pair,
            SecurityGroupIds: [this.ec2.security_group],
            SubnetId: this.ec2.subnet,
            UserData: Buffer.from(this.ec2.user_data).toString('base64'),
            ClientToken: token,
            TagSpecifications: [{ ResourceType: 'instance', Tags: tags }],
          }),
        );
        for (const i of r.Instances ?? [])
          this.events.emit({ type: 'machine', action: 'created', id: i.InstanceId!, role });
      } catch (err) {
        throw awsError(err, `launch ${n} ${role} instance(s)`);
      }
    } else if (live.length > count) {
      // the newest go first
      const extra = live.slice(count).map((i) => i.InstanceId!);
      await this.terminate(extra, role);
    }
    await this.waitRunning(role, count);
  }

  private async waitRunning(role: Role, count: number): Promise<void> {
    const deadline = Date.now() + durationMs.parse(this.ec2.wait_timeout);
    for (;;) {
      const live = await this.instances(role, LIVE);
      const running = live.filter((i) => i.State?.Name === 'running');
      if (running.length >= count && live.length === count) {
        for (const i of running) {
          this.events.emit({
            type: 'machine',
            action: 'running',
            id: i.InstanceId!,
            role,
            address: i.PublicIpAddress ?? i.PrivateIpAddress,
          });
        }
        return;
      }
      if (Date.now() > deadline) {
        throw new UserError(
          `${running.length}/${count} ${role} instance(s) running after ${this.ec2.wait_timeout}`,
          {
            code: 'GOD_EC2_TIMEOUT',
            hint: 'Look at the instances in the EC2 console (capacity, limits, AMI); `god up` again converges without duplicates.',
          },
        );
      }
      await sleep(this.o.pollMs ?? 2000);
    }
  }

  private async terminate(ids: string[], role?: Role): Promise<void> {
    if (ids.length === 0) return;
    try {
      await this.client.send(new TerminateInstancesCommand({ InstanceIds: ids }));
    } catch (err) {
      throw awsError(err, `terminate ${ids.join(', ')}`);
    }
    for (const id of ids)
      this.events.emit({ type: 'machine', action: 'terminated', id, role: role ?? 'unknown' });
  }

  /** Terminate a role's instances, given instances (i-… or process ids <role>-i-…), or the whole fleet. */
  async down(target?: Target): Promise<void> {
    const all = await this.instances(target?.role);
    let pick = all;
    if (target?.ids) {
      const want = new Set(target.ids.map((id) => id.replace(/^(feeder|endpoint|keeper)-/, '')));
      pick = all.filter((i) => want.has(i.InstanceId!));
      const missing = [...want].filter((id) => !all.some((i) => i.InstanceId === id));
      if (missing.length) {
        throw new UserError(`no instance ${missing.join(', ')} in fleet ${this.ec2.fleet}`, {
          code: 'GOD_USAGE',
          hint: '`god status` lists the machines and their ids.',
        });
      }
    }
    const ids = pick.filter((i) => i.State?.Name !== 'shutting-down').map((i) => i.InstanceId!);
    for (const i of pick) this.pool.drop({ name: i.InstanceId!, address: i.PublicIpAddress ?? '' });
    // one call per role keeps the events' role right
    const byRole = new Map<string, string[]>();
    for (const i of pick)
      if (ids.includes(i.InstanceId!))
        byRole.set(roleOf(i) ?? 'unknown', [...(byRole.get(roleOf(i) ?? 'unknown') ?? []), i.InstanceId!]);
    for (const [role, list] of byRole) await this.terminate(list, role as Role);
  }

  override async close(): Promise<void> {
    await super.close();
    this.client.destroy();
  }

  // ---- capabilities (see Provider) ----
  /** one role process per instance: `up` launches or terminates instances */
  readonly machinePerProcess = true;
}

function awsError(err: unknown, what: string): UserError {
  const e = err as { name?: string; message?: string; code?: string };
  const name = e.name ?? e.code ?? 'Error';
  const creds =
    /credential|CredentialsProviderError|AuthFailure|UnrecognizedClient|InvalidClientTokenId/i.test(
      `${name} ${e.message}`,
    );
  const net = /ECONNREFUSED|ENOTFOUND|ETIMEDOUT|socket hang up/i.test(String(e.message));
  return new UserError(`EC2: could not ${what}: ${name}: ${e.message ?? String(err)}`, {
    code: creds ? 'GOD_EC2_AUTH' : net ? 'GOD_EC2_UNREACHABLE' : 'GOD_EC2',
    hint: creds
      ? 'Set AWS credentials (AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or an instance role) with EC2 permissions.'
      : net
        ? 'Check the network and ec2.endpoint / AWS_ENDPOINT_URL.'
        : 'Check the ec2 section of god.config.yaml (ami, key_pair, security_group, subnet, instance types) and your EC2 limits.',
    cause: err,
  });
}

export const createProvider: ProviderFactory = (ctx: ProviderContext) => new Ec2Provider(ctx.config, ctx);
