// The fleet's security group (filmgrain-<fleet>) and its ingress rules, least privilege: the endpoint port(s)
// from access.endpoint_cidrs, SSH only from the operator (access.ssh_cidrs) or a bastion's group, Redis only
// from the group itself. Rules that are not wanted (an old operator address) are revoked.
import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  DescribeSecurityGroupsCommand,
  type IpPermission,
  RevokeSecurityGroupIngressCommand,
} from '@aws-sdk/client-ec2';
import { endpointOptions } from '../../../../roles/options.ts';
import { UserError } from '../../../../kernel/errors.ts';
import type { GodConfig } from '../../config/schema.ts';
import type { PlannedChange } from '../types.ts';
import { awsError, baseName, changed, type Ec2Ctx, fleetTags, type Mode, PROJECT_TAG } from './context.ts';

/** One ingress rule: tcp ports from a CIDR or from a group ('self' = the fleet's own group). */
export interface IngressRule {
  /** tcp for every rule God wants; what else a group holds ('-1' = all) is revoked */
  proto: string;
  from: number;
  to: number;
  cidr?: string;
  group?: string;
  why: string;
}

/** The endpoint's listening ports: roles.endpoint.options.port (else the role's default) + each process's index. */
export function endpointPorts(config: GodConfig): { from: number; to: number } {
  const p = config.roles.endpoint.options.port ?? Number(endpointOptions.port.default);
  return { from: p, to: p + config.roles.endpoint.processes - 1 };
}

export function redisPort(config: GodConfig): number {
  const url = config.redis.url;
  return url && new URL(url).port ? Number(new URL(url).port) : 6379;
}

/** The rules the fleet's group must hold, exactly. */
export function wantedRules(config: GodConfig): IngressRule[] {
  const a = config.ec2!.access;
  const ep = endpointPorts(config);
  const rules: IngressRule[] = a.endpoint_cidrs.map((cidr) => ({
    proto: 'tcp',
    ...ep,
    cidr,
    why: 'endpoint clients',
  }));
  for (const cidr of a.ssh_cidrs)
    rules.push({ proto: 'tcp', from: 22, to: 22, cidr, why: 'SSH from the operator' });
  if (a.bastion_security_group)
    rules.push({
      proto: 'tcp',
      from: 22,
      to: 22,
      group: a.bastion_security_group,
      why: 'SSH from the bastion',
    });
  if (a.redis_in_fleet) {
    const p = redisPort(config);
    rules.push({ proto: 'tcp', from: p, to: p, group: 'self', why: 'Redis from the fleet' });
  }
  return rules;
}

const ruleKey = (r: IngressRule) =>
  `${r.proto === '-1' ? 'all' : r.proto}${r.from < 0 ? '' : `/${r.from === r.to ? r.from : `${r.from}-${r.to}`}`} from ${r.cidr ?? r.group}`;

/** The group's ingress as IngressRules (one per CIDR or group; the group itself reads 'self'). */
function currentRules(perms: IpPermission[], groupId: string): IngressRule[] {
  const out: IngressRule[] = [];
  for (const p of perms) {
    const base = { proto: p.IpProtocol ?? '-1', from: p.FromPort ?? -1, to: p.ToPort ?? -1, why: '' };
    for (const r of p.IpRanges ?? []) out.push({ ...base, cidr: r.CidrIp });
    for (const r of p.Ipv6Ranges ?? []) out.push({ ...base, cidr: r.CidrIpv6 });
    for (const g of p.UserIdGroupPairs ?? [])
      out.push({ ...base, group: g.GroupId === groupId ? 'self' : g.GroupId });
  }
  return out;
}

function permission(r: IngressRule, groupId: string, withWhy: boolean): IpPermission {
  const desc = withWhy ? { Description: r.why } : {};
  return {
    IpProtocol: r.proto,
    ...(r.from >= 0 ? { FromPort: r.from, ToPort: r.to } : {}),
    ...(r.cidr && !r.cidr.includes(':') ? { IpRanges: [{ CidrIp: r.cidr, ...desc }] } : {}),
    ...(r.cidr?.includes(':') ? { Ipv6Ranges: [{ CidrIpv6: r.cidr, ...desc }] } : {}),
    ...(r.group ? { UserIdGroupPairs: [{ GroupId: r.group === 'self' ? groupId : r.group, ...desc }] } : {}),
  };
}

/** The group's id (undefined in a plan before it exists) and the changes made or to make. */
export async function ensureSecurityGroup(
  ctx: Ec2Ctx,
  mode: Mode,
  vpcId: string | undefined,
): Promise<{ id?: string; changes: PlannedChange[] }> {
  if (ctx.ec2c.security_group) return { id: ctx.ec2c.security_group, changes: [] };
  const name = baseName(ctx.ec2c);
  const changes: PlannedChange[] = [];
  let group:
    | { GroupId?: string; IpPermissions?: IpPermission[]; Tags?: { Key?: string; Value?: string }[] }
    | undefined;
  if (vpcId) {
    try {
      const r = await ctx.ec2.send(
        new DescribeSecurityGroupsCommand({
          Filters: [
            { Name: 'vpc-id', Values: [vpcId] },
            { Name: 'group-name', Values: [name] },
          ],
        }),
      );
      group = r.SecurityGroups?.[0];
    } catch (err) {
      throw awsError(err, `look up security group ${name}`);
    }
  }
  if (group) {
    const tags = Object.fromEntries((group.Tags ?? []).map((t) => [t.Key, t.Value]));
    if (tags.project !== PROJECT_TAG || tags.fleet !== ctx.ec2c.fleet) {
      throw new UserError(
        `security group ${name} (${group.GroupId}) exists in ${vpcId} but is not tagged project=${PROJECT_TAG}, fleet=${ctx.ec2c.fleet}`,
        {
          code: 'GOD_EC2',
          hint: 'It was not made by God for this fleet: rename or delete it, or set ec2.security_group to use it as it is.',
        },
      );
    }
  } else {
    const create: PlannedChange = {
      action: 'create',
      resource: 'security_group',
      subject: name,
      detail: vpcId ? `in ${vpcId}` : 'in a new default VPC',
    };
    if (mode === 'plan') changes.push(create);
    else {
      try {
        const r = await ctx.ec2.send(
          new CreateSecurityGroupCommand({
            GroupName: name,
            Description: `filmgrain fleet ${ctx.ec2c.fleet} (managed by god)`,
            VpcId: vpcId,
            TagSpecifications: [
              { ResourceType: 'security-group', Tags: fleetTags(ctx.ec2c, { Name: name }) },
            ],
          }),
        );
        group = { GroupId: r.GroupId, IpPermissions: [] };
      } catch (err) {
        throw awsError(err, `create security group ${name}`);
      }
      changes.push(changed(ctx, create));
    }
  }
  const id = group?.GroupId;
  const have = currentRules(group?.IpPermissions ?? [], id ?? '');
  const want = wantedRules(ctx.config);
  const haveKeys = new Set(have.map(ruleKey));
  const wantKeys = new Set(want.map(ruleKey));
  for (const r of want.filter((r) => !haveKeys.has(ruleKey(r)))) {
    const c: PlannedChange = {
      action: 'create',
      resource: 'security_group_rule',
      subject: `${name} ${ruleKey(r)}`,
      detail: r.why,
    };
    if (mode === 'apply') {
      try {
        await ctx.ec2.send(
          new AuthorizeSecurityGroupIngressCommand({
            GroupId: id,
            IpPermissions: [permission(r, id!, true)],
          }),
        );
      } catch (err) {
        throw awsError(err, `allow ${ruleKey(r)} in ${name}`);
      }
      changed(ctx, c);
    }
    changes.push(c);
  }
  for (const r of have.filter((r) => !wantKeys.has(ruleKey(r)))) {
    const c: PlannedChange = {
      action: 'update',
      resource: 'security_group_rule',
      subject: `${name} ${ruleKey(r)}`,
      detail: 'revoke: not in the config',
    };
    if (mode === 'apply') {
      try {
        await ctx.ec2.send(
          new RevokeSecurityGroupIngressCommand({ GroupId: id, IpPermissions: [permission(r, id!, false)] }),
        );
      } catch (err) {
        throw awsError(err, `revoke ${ruleKey(r)} in ${name}`);
      }
      changed(ctx, c);
    }
    changes.push(c);
  }
  return { id, changes };
}
