// How an instance is launched: hardened (IMDSv2 only with hop limit 1, encrypted root volume, optional
// termination protection and spot), placed in the zone with the fewest of its role, tagged. The only user-data
// is the host key God made for the instance (host-keys.ts) and what the config gives: the runtime comes over
// SSH with the release.
import type { Instance, RunInstancesCommandInput } from '@aws-sdk/client-ec2';
import type { Role } from '../../../../protocol/redis-contract.ts';
import type { Image } from './ami.ts';
import { type Ec2Ctx, fleetTags, instanceTypeOf } from './context.ts';
import { HOST_KEY_TAG, type HostKey, userDataWith } from './host-keys.ts';
import type { Placement } from './subnets.ts';

/**
 * Which placement each of `n` new instances goes to: always the one holding the fewest of the role's live
 * instances (ties: the config's zone order), so a role spreads evenly and stays spread as it grows.
 */
export function spread(placements: Placement[], live: Instance[], n: number): Placement[] {
  const counts = placements.map(
    (p) =>
      live.filter((i) => (p.subnetId ? i.SubnetId === p.subnetId : i.Placement?.AvailabilityZone === p.zone))
        .length,
  );
  const out: Placement[] = [];
  for (let k = 0; k < n; k++) {
    let best = 0;
    for (let j = 1; j < counts.length; j++) if (counts[j]! < counts[best]!) best = j;
    counts[best]!++;
    out.push(placements[best]!);
  }
  return out;
}

/** One line per new instance in plans and events: "t3.small x86_64 ami-… in us-east-1a, spot". */
export function launchDetail(ctx: Ec2Ctx, role: Role, image: Image, p: Placement): string {
  const spot = ctx.ec2c.spot.includes(role) ? ', spot' : '';
  return `${instanceTypeOf(ctx.ec2c, role)} ${image.arch} ${image.id} in ${p.zone}${spot}`;
}

export function launchInput(
  ctx: Ec2Ctx,
  o: {
    role: Role;
    image: Image;
    subnetId: string;
    groupId: string;
    profile?: string;
    count: number;
    token: string;
    /** this instance's host key (then count is 1): in its user-data, its public half in a tag */
    hostKey?: HostKey;
  },
): RunInstancesCommandInput {
  const c = ctx.ec2c;
  const tags = fleetTags(c, { role: o.role });
  const userData = o.hostKey ? userDataWith(o.hostKey, c.user_data) : c.user_data;
  return {
    ImageId: o.image.id,
    InstanceType: instanceTypeOf(c, o.role) as never,
    MinCount: o.count,
    MaxCount: o.count,
    KeyName: c.key_pair,
    SubnetId: o.subnetId,
    SecurityGroupIds: [o.groupId],
    ...(o.profile ? { IamInstanceProfile: { Name: o.profile } } : {}),
    // IMDSv2 only, and one hop: a container on the host cannot reach the instance's credentials
    MetadataOptions: { HttpTokens: 'required', HttpPutResponseHopLimit: 1, HttpEndpoint: 'enabled' },
    BlockDeviceMappings: [
      {
        DeviceName: o.image.rootDevice,
        Ebs: {
          Encrypted: true,
          VolumeSize: c.volume.size_gb,
          VolumeType: c.volume.type,
          DeleteOnTermination: true,
          ...(c.volume.kms_key ? { KmsKeyId: c.volume.kms_key } : {}),
        },
      },
    ],
    DisableApiTermination: c.termination_protection,
    ...(c.spot.includes(o.role)
      ? {
          InstanceMarketOptions: {
            MarketType: 'spot',
            SpotOptions: { SpotInstanceType: 'one-time', InstanceInterruptionBehavior: 'terminate' },
          },
        }
      : {}),
    ...(userData ? { UserData: Buffer.from(userData).toString('base64') } : {}),
    ClientToken: o.token,
    TagSpecifications: [
      {
        ResourceType: 'instance',
        Tags: [
          ...tags,
          { Key: 'Name', Value: `${c.fleet}-${o.role}` },
          ...(o.hostKey ? [{ Key: HOST_KEY_TAG, Value: o.hostKey.public }] : []),
        ],
      },
      { ResourceType: 'volume', Tags: tags },
    ],
  };
}
