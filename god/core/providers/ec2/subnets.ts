// Where instances go: the VPC (ec2.vpc or the region's default), and one tagged subnet per availability zone
// (created in a free block of the VPC when missing), or the subnets the config lists.
import {
  CreateSubnetCommand,
  DescribeAvailabilityZonesCommand,
  DescribeSubnetsCommand,
  type DescribeSubnetsCommandInput,
  DescribeVpcsCommand,
  ModifySubnetAttributeCommand,
  type Subnet,
} from '@aws-sdk/client-ec2';
import { UserError } from '../../../../kernel/errors.ts';
import type { PlannedChange } from '../types.ts';
import { awsError, baseName, changed, type Ec2Ctx, fleetTags, type Mode, tagFilters } from './context.ts';

/** A subnet instances can be launched in (id undefined in a plan before it exists). */
export interface Placement {
  zone: string;
  subnetId?: string;
}

export async function resolveVpc(ctx: Ec2Ctx): Promise<{ id: string; cidrs: string[] }> {
  const filters = ctx.ec2c.vpc
    ? { VpcIds: [ctx.ec2c.vpc] }
    : { Filters: [{ Name: 'is-default', Values: ['true'] }] };
  let vpc:
    | { VpcId?: string; CidrBlockAssociationSet?: { CidrBlock?: string }[]; CidrBlock?: string }
    | undefined;
  try {
    vpc = (await ctx.ec2.send(new DescribeVpcsCommand(filters))).Vpcs?.[0];
  } catch (err) {
    throw awsError(err, `find the VPC ${ctx.ec2c.vpc ?? '(default)'}`);
  }
  if (!vpc?.VpcId) {
    throw new UserError(
      ctx.ec2c.vpc
        ? `VPC ${ctx.ec2c.vpc} does not exist in ${ctx.ec2c.region}`
        : `${ctx.ec2c.region} has no default VPC`,
      {
        code: 'GOD_CONFIG',
        hint: 'Set ec2.vpc to a VPC id with an internet gateway (or `aws ec2 create-default-vpc`), or list ec2.subnets.',
      },
    );
  }
  const cidrs = (vpc.CidrBlockAssociationSet ?? []).map((c) => c.CidrBlock!).filter(Boolean);
  return { id: vpc.VpcId, cidrs: cidrs.length ? cidrs : [vpc.CidrBlock!] };
}

// ---- IPv4 blocks ----
const ipToInt = (ip: string) => ip.split('.').reduce((a, o) => a * 256 + Number(o), 0);
const intToIp = (n: number) => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
function block(cidr: string): [number, number] {
  const [ip, len] = cidr.split('/');
  const size = 2 ** (32 - Number(len));
  const start = Math.floor(ipToInt(ip!) / size) * size;
  return [start, start + size];
}

/** The first /`prefix` block inside `vpcCidrs` that overlaps none of `taken`, or undefined when full. */
export function freeBlock(vpcCidrs: string[], taken: string[], prefix: number): string | undefined {
  const used = taken.map(block);
  const size = 2 ** (32 - prefix);
  for (const v of vpcCidrs) {
    const [lo, hi] = block(v);
    for (let s = lo; s + size <= hi; s += size) {
      if (!used.some(([a, b]) => s < b && a < s + size)) return `${intToIp(s)}/${prefix}`;
    }
  }
  return undefined;
}

async function zones(ctx: Ec2Ctx): Promise<string[]> {
  if (ctx.ec2c.availability_zones) return ctx.ec2c.availability_zones;
  try {
    const r = await ctx.ec2.send(
      new DescribeAvailabilityZonesCommand({ Filters: [{ Name: 'state', Values: ['available'] }] }),
    );
    return (r.AvailabilityZones ?? [])
      .map((z) => z.ZoneName!)
      .sort()
      .slice(0, 3);
  } catch (err) {
    throw awsError(err, 'list the availability zones');
  }
}

async function subnetsWhere(ctx: Ec2Ctx, input: DescribeSubnetsCommandInput) {
  try {
    return (await ctx.ec2.send(new DescribeSubnetsCommand(input))).Subnets ?? [];
  } catch (err) {
    throw awsError(err, 'list subnets');
  }
}

/** The placements instances spread over, in the config's zone order; creates the missing subnets. */
export async function ensureSubnets(
  ctx: Ec2Ctx,
  mode: Mode,
  vpc: { id: string; cidrs: string[] },
): Promise<{ placements: Placement[]; changes: PlannedChange[] }> {
  if (ctx.ec2c.subnets) {
    const found = await subnetsWhere(ctx, { SubnetIds: ctx.ec2c.subnets });
    return {
      placements: ctx.ec2c.subnets.map((id) => ({
        subnetId: id,
        zone: found.find((s) => s.SubnetId === id)?.AvailabilityZone ?? '?',
      })),
      changes: [],
    };
  }
  const wanted = await zones(ctx);
  const ours = await subnetsWhere(ctx, {
    Filters: [{ Name: 'vpc-id', Values: [vpc.id] }, ...tagFilters(ctx.ec2c)],
  });
  const all = await subnetsWhere(ctx, { Filters: [{ Name: 'vpc-id', Values: [vpc.id] }] });
  const taken = all.map((s) => s.CidrBlock!).filter(Boolean);
  const placements: Placement[] = [];
  const changes: PlannedChange[] = [];
  for (const zone of wanted) {
    const have = ours.find((s: Subnet) => s.AvailabilityZone === zone);
    if (have) {
      placements.push({ zone, subnetId: have.SubnetId });
      continue;
    }
    const cidr = freeBlock(vpc.cidrs, taken, ctx.ec2c.subnet_prefix_length);
    if (!cidr) {
      throw new UserError(
        `no free /${ctx.ec2c.subnet_prefix_length} left in ${vpc.id} (${vpc.cidrs.join(', ')})`,
        {
          code: 'GOD_EC2',
          hint: 'Use a smaller ec2.subnet_prefix_length (a larger number), another ec2.vpc, or list ec2.subnets.',
        },
      );
    }
    taken.push(cidr);
    const name = `${baseName(ctx.ec2c)}-${zone}`;
    const c: PlannedChange = {
      action: 'create',
      resource: 'subnet',
      subject: name,
      detail: `${cidr} in ${zone}${ctx.ec2c.public_ip ? ', public IPs' : ''}`,
    };
    if (mode === 'plan') {
      placements.push({ zone });
      changes.push(c);
      continue;
    }
    try {
      const r = await ctx.ec2.send(
        new CreateSubnetCommand({
          VpcId: vpc.id,
          CidrBlock: cidr,
          AvailabilityZone: zone,
          TagSpecifications: [{ ResourceType: 'subnet', Tags: fleetTags(ctx.ec2c, { Name: name }) }],
        }),
      );
      const id = r.Subnet!.SubnetId!;
      if (ctx.ec2c.public_ip) {
        await ctx.ec2.send(
          new ModifySubnetAttributeCommand({ SubnetId: id, MapPublicIpOnLaunch: { Value: true } }),
        );
      }
      placements.push({ zone, subnetId: id });
    } catch (err) {
      throw awsError(err, `create subnet ${cidr} in ${zone}`);
    }
    changes.push(changed(ctx, c));
  }
  return { placements, changes };
}
