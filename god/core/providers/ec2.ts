// The ec2 provider: instances tagged project/fleet/role, each running `roles.<role>.processes` of its role, reached over SSH
// like the ssh provider. `up` first ensures what the instances need (ec2/: key pair, security group, instance
// profile, subnets, AMI), then converges a role's instance count (pending + running, never duplicates),
// launching hardened instances spread over the zones; `plan` runs the same code read-only. `down` terminates
// by role, id or the whole fleet; a shrinking role loses instances in ec2/removal.ts's order.
import { createHash } from 'node:crypto';
import {
  DescribeInstancesCommand,
  EC2Client,
  type Filter,
  type Instance,
  ModifyInstanceAttributeCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { IAMClient } from '@aws-sdk/client-iam';
import { SSMClient } from '@aws-sdk/client-ssm';
import { type Role, RoleSchema } from '../../../protocol/redis-contract.ts';
import { durationMs } from '../../../kernel/units.ts';
import { UserError } from '../../../kernel/errors.ts';
import type { Ec2Config, GodConfig } from '../config/schema.ts';
import {
  deployHostsFrom,
  expandPath,
  hostOfProcessId,
  processId,
  type RemoteHostSpec,
} from '../deploy/remote-fleet.ts';
import { attachSecrets } from '../secrets/hosts.ts';
import { loadRelease } from '../deploy/release.ts';
import type { DeployHost } from '../deploy/types.ts';
import { forgetEndpoints } from '../admission.ts';
import { listEndpoints } from '../endpoints.ts';
import { type EventSink, nullSink, timedStep } from '../events.ts';
import { connectFleetRedis } from '../redis.ts';
import { KnownHosts } from '../ssh/known-hosts.ts';
import { defaultKnownHosts } from '../ssh/types.ts';
import { type Image, resolveImage } from './ec2/ami.ts';
import {
  awsError,
  changed,
  type Ec2Ctx,
  instanceTypeOf,
  isAwsError,
  type Mode,
  PROJECT_TAG,
} from './ec2/context.ts';
import { generateHostKey, pinHostKey } from './ec2/host-keys.ts';
import { ensureInstanceProfile } from './ec2/iam.ts';
import { archOf } from './ec2/images.ts';
import { ensureKeyPair } from './ec2/key-pair.ts';
import { launchDetail, launchInput, spread } from './ec2/launch.ts';
import { isReady, makeReady } from './ec2/ready.ts';
import { removalOrder } from './ec2/removal.ts';
import { ensureSecurityGroup } from './ec2/security-group.ts';
import { ensureSubnets, type Placement, resolveVpc } from './ec2/subnets.ts';
import { RemoteFleetProvider, type Target } from './remote.ts';
import type {
  ExpectedProcess,
  Machine,
  PlannedChange,
  PlanOp,
  ProviderContext,
  ProviderFactory,
} from './types.ts';
import { sleep } from '../../../kernel/sleep.ts';

export { PROJECT_TAG, removalOrder };
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
  iam?: IAMClient;
  ssm?: SSMClient;
  /** endpoint instance id → clients it holds (default: the endpoint registry in redis.url, when reachable) */
  endpointClients?: () => Promise<Map<string, number> | undefined>;
  addressMap?: AddressMap;
  /** poll interval while waiting for instance states and SSH (default 2 s; tests use less) */
  pollMs?: number;
  /**
   * Test seam, the one place tests stand in for the instances' boot: called with the running instances about
   * to be made ready, before God connects (the netns tests apply each one's user-data to a namespace's sshd
   * here and map its address in addressMap).
   */
  onRunning?: (instances: Instance[]) => Promise<void>;
}

export class Ec2Provider extends RemoteFleetProvider {
  readonly kind = 'ec2' as const;
  readonly client: EC2Client;
  private readonly ec2: Ec2Config;
  private readonly aws: Ec2Ctx;

  constructor(
    config: GodConfig,
    private readonly ctx: Pick<ProviderContext, 'baseDir' | 'env'> & { events?: EventSink },
    private readonly o: Ec2ProviderOptions = {},
  ) {
    if (!config.ec2) {
      throw new UserError('provider ec2 needs an ec2 section', {
        code: 'GOD_CONFIG',
        hint: 'Add ec2: (region, key_pair, public_key, access.ssh_cidrs...) to god.config.yaml; see god/examples/god.ec2.yaml.',
      });
    }
    super(config, ctx.events ?? nullSink, ctx.baseDir, ctx.env);
    this.ec2 = config.ec2;
    const endpoint = this.ec2.endpoint ?? ctx.env.AWS_ENDPOINT_URL_EC2 ?? ctx.env.AWS_ENDPOINT_URL;
    this.client = o.client ?? new EC2Client({ region: this.ec2.region, ...(endpoint ? { endpoint } : {}) });
    // the standard credential chain; AWS_ENDPOINT_URL(_IAM/_SSM) are read by the SDK itself
    const at = (service: string) => {
      const e = this.ec2.endpoint ?? ctx.env[`AWS_ENDPOINT_URL_${service}`] ?? ctx.env.AWS_ENDPOINT_URL;
      return e ? { endpoint: e } : {};
    };
    this.aws = {
      ec2: this.client,
      iam: o.iam ?? new IAMClient({ region: this.ec2.region, ...at('IAM') }),
      ssm: o.ssm ?? new SSMClient({ region: this.ec2.region, ...at('SSM') }),
      config,
      ec2c: this.ec2,
      events: this.events,
      baseDir: ctx.baseDir,
    };
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

  /** Where God connects to an instance: through a bastion (ssh.jump) its private address, which needs no public IP. */
  private sshIp(i: Instance): string | undefined {
    return this.ssh.jump ? i.PrivateIpAddress : (i.PublicIpAddress ?? i.PrivateIpAddress);
  }

  /** The address clients reach an endpoint instance at: its public one (mapped like God's), else God's. */
  private readonly clientHosts = new Map<string, string>();

  private hostSpec(i: Instance, map: AddressMap): RemoteHostSpec | undefined {
    const role = roleOf(i);
    const ip = this.sshIp(i);
    if (!role || !i.InstanceId || !ip) return undefined;
    const m = map[i.InstanceId] ?? map[ip];
    const pub = i.PublicIpAddress;
    this.clientHosts.set(i.InstanceId, pub ? (map[pub]?.address ?? pub) : (m?.address ?? ip));
    return {
      name: i.InstanceId,
      address: m?.address ?? ip,
      port: m?.port ?? 22,
      roles: [role],
      baseDir: m?.base_dir ? expandPath(m.base_dir, this.ctx.baseDir) : undefined,
    };
  }

  /** The running instances as deploy hosts; their God-made host keys pinned (a new operator machine has none). */
  async deployHosts(): Promise<DeployHost[]> {
    const map = this.addressMap();
    const running = await this.instances(undefined, ['running']);
    if (this.ec2.host_keys === 'pin') {
      const known = new KnownHosts(this.ssh.knownHostsPath ?? defaultKnownHosts());
      for (const i of running) {
        const h = this.hostSpec(i, map);
        if (h) pinHostKey(known, i, { address: h.address, port: h.port ?? 22 });
      }
    }
    const specs = running.map((i) => this.hostSpec(i, map)).filter((x): x is RemoteHostSpec => !!x);
    return this.withSecrets(this.withPublicHost(deployHostsFrom(this.config, specs)));
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
    // roles.<role>.processes per instance (remote-fleet.ts names them as deployHostsFrom does)
    return specs.flatMap((s) =>
      Array.from({ length: this.config.roles[s.role].processes }, (_, i) => ({
        role: s.role,
        id: processId(s.role, s.id, i),
        host: s.id,
      })),
    );
  }

  /** Converge `role` to `count` instances (pending + running) with everything they need, then wait until they run. */
  async up(role: Role, count: number): Promise<void> {
    await this.converge(role, count, 'apply');
  }

  /** What `op` would change, read-only. An up's list is what the following `up` does, in the same order. */
  async plan(op: PlanOp): Promise<PlannedChange[]> {
    if (op.op === 'up') return this.converge(op.role, op.count, 'plan');
    const pick = await this.targeted(op.target);
    if (op.op === 'down') {
      return removalOrder(op.target?.role, pick, await this.clientsIf(pick)).map((i) =>
        this.terminateChange(i),
      );
    }
    return pick
      .filter((i) => i.State?.Name === 'running' && roleOf(i))
      .map((i) => ({
        action: op.op === 'deploy' ? ('upload' as const) : ('restart' as const),
        resource: op.op === 'deploy' ? ('release' as const) : ('process' as const),
        subject: `${roleOf(i)}-${i.InstanceId}`,
        detail: `on ${i.InstanceId} (${i.PublicIpAddress ?? i.PrivateIpAddress ?? 'no address'})`,
      }));
  }

  private terminateChange(i: Instance): PlannedChange {
    return {
      action: 'terminate',
      resource: 'machine',
      subject: i.InstanceId!,
      detail: `${roleOf(i) ?? 'no role'}, ${i.InstanceType} in ${i.Placement?.AvailabilityZone ?? '?'}`,
    };
  }

  /** The resources `role` needs (apply: made), then its instances launched or terminated. */
  private async converge(role: Role, count: number, mode: Mode): Promise<PlannedChange[]> {
    const live = await this.instances(role, LIVE);
    if (mode === 'apply')
      for (const i of live)
        this.events.emit({
          type: 'machine',
          action: 'exists',
          id: i.InstanceId!,
          role,
          address: i.PublicIpAddress ?? i.PrivateIpAddress,
        });
    const changes: PlannedChange[] = [];
    if (count > 0) {
      // no instance is launched for a release that cannot be shipped
      if (mode === 'apply' && this.ec2.ready.serve)
        loadRelease({
          roles: [role],
          bundleDir: this.ctx.env.GOD_BUNDLE_DIR,
          version: this.ctx.env.GOD_VERSION,
        });
      changes.push(...(await ensureKeyPair(this.aws, mode)));
      const vpc = await resolveVpc(this.aws);
      const sg = await ensureSecurityGroup(this.aws, mode, vpc.id);
      changes.push(...sg.changes);
      const profile = await ensureInstanceProfile(this.aws, mode, role);
      changes.push(...profile.changes);
      const net = await ensureSubnets(this.aws, mode, vpc);
      changes.push(...net.changes);
      if (live.length < count) {
        const image = await resolveImage(this.aws, archOf(instanceTypeOf(this.ec2, role)));
        const where = spread(net.placements, live, count - live.length);
        if (mode === 'plan') {
          for (const [k, p] of where.entries()) {
            changes.push({
              action: 'create',
              resource: 'machine',
              subject: `${role} ${live.length + k + 1}/${count}`,
              detail: launchDetail(this.aws, role, image, p),
            });
            if (this.ec2.ready.serve)
              changes.push({
                action: 'upload',
                resource: 'release',
                subject: `${role} ${live.length + k + 1}/${count}`,
                detail:
                  'once SSH opens with its pinned host key: deploy the current release, start the role, wait for its health',
              });
          }
        } else {
          changes.push(...(await this.launch(role, count, live, image, where, sg.id!, profile.name)));
        }
      }
    }
    if (live.length > count) {
      const extra = removalOrder(role, live, await this.clientsIf(live)).slice(0, live.length - count);
      changes.push(...extra.map((i) => this.terminateChange(i)));
      if (mode === 'apply')
        await this.terminate(
          extra.map((i) => i.InstanceId!),
          role,
        );
    }
    if (mode === 'apply') await this.waitRunning(role, count);
    if (mode === 'apply' && count > 0 && this.ec2.ready.serve) await this.serve(role);
    return changes;
  }

  /** The role's running instances that do not serve yet: made ready (ec2/ready.ts); an error names each failure. */
  private async serve(role: Role): Promise<void> {
    const todo = (await this.instances(role, ['running'])).filter((i) => !isReady(i));
    if (todo.length === 0) return;
    await this.o.onRunning?.(todo);
    const map = this.addressMap();
    const secrets = await this.secrets();
    const hostOf = (i: Instance) => {
      const spec = this.hostSpec(i, map);
      return spec
        ? attachSecrets(this.withPublicHost(deployHostsFrom(this.config, [spec])), secrets)[0]
        : undefined;
    };
    const { failed } = await timedStep(this.events, `ready ${role}`, () =>
      makeReady(
        {
          ctx: this.aws,
          role,
          pool: this.pool,
          ssh: { ...this.ssh, acceptNew: this.ssh.acceptNew || this.ec2.host_keys === 'accept-new' },
          env: this.ctx.env,
          hostOf,
          terminate: (ids) => this.terminate(ids, role),
          pollMs: this.o.pollMs ?? 2000,
        },
        todo,
      ),
    );
    if (failed.length) {
      throw new UserError(
        `${failed.length} of ${todo.length} ${role} instance(s) God was making ready do not serve:\n  ${failed
          .map(
            (f) =>
              `${f.id} failed at ${f.step}: ${f.error.split('\n')[0]}${f.kept ? ' (kept)' : ' (terminated)'}\n    → ${f.hint}`,
          )
          .join('\n  ')}`,
        {
          code: 'GOD_EC2_NOT_READY',
          hint: `The other instances serve. Fix what is named above, then \`god up ${role}\` again: it ${failed.some((f) => f.kept) ? 'retries the kept instances and ' : ''}launches what is missing.`,
        },
      );
    }
  }

  /** An endpoint registers (and endpoints.json lists) the address clients reach it at: the instance's. */
  private withPublicHost(hosts: DeployHost[]): DeployHost[] {
    for (const h of hosts)
      for (const p of h.processes)
        if (p.role === 'endpoint' && !p.env.FG_ENDPOINT_PUBLIC_HOST)
          p.env.FG_ENDPOINT_PUBLIC_HOST = this.ssh.jump
            ? (this.clientHosts.get(h.name) ?? h.address)
            : h.address;
    return hosts;
  }

  /** One RunInstances per subnet; retried while a new instance profile is not yet visible to EC2. */
  private async launch(
    role: Role,
    count: number,
    live: Instance[],
    image: Image,
    where: Placement[],
    groupId: string,
    profile: string | undefined,
  ): Promise<PlannedChange[]> {
    const changes: PlannedChange[] = [];
    // pinned host keys: one request per instance (user-data is per request); else one per subnet
    const pin = this.ec2.host_keys === 'pin';
    const groups: Array<{ subnetId: string; ps: Placement[]; n: number }> = [];
    for (const [n, p] of where.entries()) {
      const g = pin ? undefined : groups.find((x) => x.subnetId === p.subnetId);
      if (g) g.ps.push(p);
      else groups.push({ subnetId: p.subnetId!, ps: [p], n });
    }
    const deadline = Date.now() + durationMs.parse(this.ec2.wait_timeout);
    for (const { subnetId, ps, n } of groups) {
      // the same request retried (God crashed mid-call) must not launch twice
      const token = createHash('sha256')
        .update(
          `${this.ec2.fleet}/${role}/${count}/${subnetId}/${pin ? n : ''}/${live.map((i) => i.InstanceId).join(',')}`,
        )
        .digest('hex')
        .slice(0, 60);
      const input = launchInput(this.aws, {
        role,
        image,
        subnetId,
        groupId,
        profile,
        count: ps.length,
        token,
        hostKey: pin ? generateHostKey() : undefined,
      });
      for (;;) {
        try {
          const r = await this.client.send(new RunInstancesCommand(input));
          for (const i of r.Instances ?? []) {
            this.events.emit({ type: 'machine', action: 'created', id: i.InstanceId!, role });
            changes.push(
              changed(this.aws, {
                action: 'create',
                resource: 'machine',
                subject: i.InstanceId!,
                detail: launchDetail(this.aws, role, image, ps[0]!),
              }),
            );
          }
          break;
        } catch (err) {
          const propagating =
            profile &&
            isAwsError(err, 'InvalidParameterValue') &&
            /instance profile/i.test(String((err as Error).message));
          if (!propagating || Date.now() > deadline)
            throw awsError(err, `launch ${ps.length} ${role} instance(s) in ${ps[0]!.zone}`);
          await sleep(this.o.pollMs ?? 2000);
        }
      }
    }
    return changes;
  }

  /** Client counts of endpoint instances, when some of `live` are endpoints and the registry is readable. */
  private async clientsIf(live: Instance[]): Promise<Map<string, number> | undefined> {
    if (!live.some((i) => roleOf(i) === 'endpoint')) return undefined;
    if (this.o.endpointClients) return this.o.endpointClients();
    if (!this.config.redis.url) return undefined;
    try {
      const fr = await connectFleetRedis(this.config.redis.url, {
        prefix: this.config.redis.prefix,
        tlsCa: this.config.redis.tls_ca,
        name: 'god:ec2',
      });
      try {
        const r = await listEndpoints(fr);
        // an instance holds the clients of all its endpoint processes
        const byInstance = new Map<string, number>();
        for (const e of r.endpoints) {
          const id = hostOfProcessId(e.id);
          byInstance.set(id, (byInstance.get(id) ?? 0) + e.clients);
        }
        return byInstance;
      } finally {
        fr.close();
      }
    } catch (err) {
      this.events.emit({
        type: 'warn',
        message: `cannot read the endpoint registry (${(err as Error).message}): picking the newest endpoints first`,
      });
      return undefined;
    }
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
      // termination protection guards against accidents; `god down` is deliberate
      if (this.ec2.termination_protection)
        for (const id of ids)
          await this.client.send(
            new ModifyInstanceAttributeCommand({ InstanceId: id, DisableApiTermination: { Value: false } }),
          );
      await this.client.send(new TerminateInstancesCommand({ InstanceIds: ids }));
    } catch (err) {
      throw awsError(err, `terminate ${ids.join(', ')}`);
    }
    for (const id of ids)
      this.events.emit({ type: 'machine', action: 'terminated', id, role: role ?? 'unknown' });
    if (role === 'endpoint') await this.forgetAdmissions(ids);
  }

  /** A terminated endpoint's admission (admission.ts) would only pile up: its id never comes back. */
  private async forgetAdmissions(ids: string[]): Promise<void> {
    if (!this.config.redis.url) return;
    try {
      const fr = await connectFleetRedis(this.config.redis.url, {
        prefix: this.config.redis.prefix,
        tlsCa: this.config.redis.tls_ca,
        name: 'god:ec2',
      });
      try {
        const procs = this.config.roles.endpoint.processes;
        await forgetEndpoints(
          fr.redis,
          fr.keys,
          ids.flatMap((id) => Array.from({ length: procs }, (_, i) => processId('endpoint', id, i))),
        );
      } finally {
        fr.close();
      }
    } catch (err) {
      this.events.emit({
        type: 'warn',
        message: `cannot forget the admissions of ${ids.join(', ')} (${(err as Error).message}): harmless, they stay in Redis`,
      });
    }
  }

  /** The fleet's instances a target names: a role's, given ids (i-…, or a process <role>-i-…[-pN]), or all. */
  private async targeted(target?: Target): Promise<Instance[]> {
    const all = (await this.instances(target?.role)).filter((i) => i.State?.Name !== 'shutting-down');
    if (!target?.ids) return all;
    const want = new Set(target.ids.map(hostOfProcessId));
    const missing = [...want].filter((id) => !all.some((i) => i.InstanceId === id));
    if (missing.length) {
      throw new UserError(`no instance ${missing.join(', ')} in fleet ${this.ec2.fleet}`, {
        code: 'GOD_USAGE',
        hint: '`god status` lists the machines and their ids.',
      });
    }
    return all.filter((i) => want.has(i.InstanceId!));
  }

  /** Terminate a role's instances, given instances (i-… or process ids <role>-i-…), or the whole fleet. */
  async down(target?: Target): Promise<void> {
    const pick = await this.targeted(target);
    for (const i of pick) this.pool.drop({ name: i.InstanceId!, address: i.PublicIpAddress ?? '' });
    // one call per role keeps the events' role right
    const byRole = new Map<string, Instance[]>();
    for (const i of pick)
      byRole.set(roleOf(i) ?? 'unknown', [...(byRole.get(roleOf(i) ?? 'unknown') ?? []), i]);
    for (const [role, list] of byRole) {
      for (const i of list) changed(this.aws, this.terminateChange(i));
      await this.terminate(
        list.map((i) => i.InstanceId!),
        role as Role,
      );
    }
  }

  override async close(): Promise<void> {
    await super.close();
    this.client.destroy();
    this.aws.iam.destroy();
    this.aws.ssm.destroy();
  }

  // ---- capabilities (see Provider) ----
  /** one role process per instance: `up` launches or terminates instances */
  readonly machinePerProcess = true;
}

export const createProvider: ProviderFactory = (ctx: ProviderContext) => new Ec2Provider(ctx.config, ctx);
