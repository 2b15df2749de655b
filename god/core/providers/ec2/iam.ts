// Each role's instance profile (IAM role + one inline policy) with exactly what the role calls: the keeper
// writes its archive prefix in S3 and alerts through SNS (sms) and SES (email); feeder and endpoint call no
// AWS API, so they get no profile at all. No static AWS keys on hosts.
import {
  AddRoleToInstanceProfileCommand,
  CreateInstanceProfileCommand,
  CreateRoleCommand,
  DeleteRolePolicyCommand,
  GetInstanceProfileCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  ListRolePoliciesCommand,
  PutRolePolicyCommand,
} from '@aws-sdk/client-iam';
import type { Role } from '../../../../protocol/redis-contract.ts';
import { roleEnv } from '../../config/role-env.ts';
import type { GodConfig } from '../../config/schema.ts';
import type { PlannedChange } from '../types.ts';
import { awsError, baseName, changed, type Ec2Ctx, isAwsError, type Mode } from './context.ts';

export const POLICY_NAME = 'filmgrain';
const TRUST = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }],
});

export interface PolicyDocument {
  Version: '2012-10-17';
  Statement: Array<Record<string, unknown>>;
}

const partition = (region: string) =>
  region.startsWith('cn-') ? 'aws-cn' : region.startsWith('us-gov-') ? 'aws-us-gov' : 'aws';

/** The role's inline policy, from what its config (options and env) turns on; undefined: it needs none. */
export function policyFor(config: GodConfig, role: Role): PolicyDocument | undefined {
  if (role !== 'keeper') return undefined;
  const env = roleEnv(config, role, { id: 'keeper', redisUrl: config.redis.url ?? '' });
  const st: Array<Record<string, unknown>> = [];
  const arn = `arn:${partition(config.ec2!.region)}:s3:::`;
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(env.FG_KEEPER_ARCHIVE ?? '');
  if (m) {
    const bucket = m[1]!;
    const prefix = m[2]!.replace(/^\/+|\/+$/g, '');
    const keys = prefix ? `${prefix}/*` : '*';
    st.push({
      Sid: 'ArchiveObjects',
      Effect: 'Allow',
      Action: ['s3:GetObject', 's3:PutObject'],
      Resource: `${arn}${bucket}/${keys}`,
    });
    // IfExists: the keeper's reachability probe is HeadBucket, which carries no s3:prefix
    st.push({
      Sid: 'ArchiveList',
      Effect: 'Allow',
      Action: 's3:ListBucket',
      Resource: `${arn}${bucket}`,
      Condition: { StringLikeIfExists: { 's3:prefix': [keys] } },
    });
  }
  // SMS goes to a phone number, not a topic: sns:Publish has no narrower resource for it
  if (env.FG_KEEPER_ALERT_SMS)
    st.push({ Sid: 'AlertSms', Effect: 'Allow', Action: 'sns:Publish', Resource: '*' });
  if (env.FG_KEEPER_ALERT_EMAIL) {
    st.push({
      Sid: 'AlertEmail',
      Effect: 'Allow',
      Action: 'ses:SendEmail',
      Resource: '*',
      ...(env.FG_KEEPER_EMAIL_FROM
        ? { Condition: { StringEquals: { 'ses:FromAddress': env.FG_KEEPER_EMAIL_FROM } } }
        : {}),
    });
  }
  return st.length ? { Version: '2012-10-17', Statement: st } : undefined;
}

export const profileName = (ctx: Ec2Ctx, role: Role) => `${baseName(ctx.ec2c)}-${role}`;

/** IAM returns policy documents URL-encoded (moto sometimes not). */
function parseDoc(text: string | undefined): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text.startsWith('%7B') || text.startsWith('%7b') ? decodeURIComponent(text) : text);
  } catch {
    return undefined;
  }
}

function summary(doc: PolicyDocument): string {
  return doc.Statement.map((s) => [s.Action].flat().join('+')).join(', ');
}

/** The profile `role`'s instances launch with (undefined: none), and the changes made or to make. */
export async function ensureInstanceProfile(
  ctx: Ec2Ctx,
  mode: Mode,
  role: Role,
): Promise<{ name?: string; changes: PlannedChange[] }> {
  const doc = policyFor(ctx.config, role);
  if (!doc) return { changes: [] };
  const name = profileName(ctx, role);
  const tags = [
    ...Object.entries(ctx.ec2c.tags).map(([Key, Value]) => ({ Key, Value })),
    { Key: 'project', Value: 'filmgrain' },
    { Key: 'fleet', Value: ctx.ec2c.fleet },
    { Key: 'role', Value: role },
  ];
  const changes: PlannedChange[] = [];
  const step = async (c: PlannedChange, what: string, run: () => Promise<unknown>) => {
    if (mode === 'apply') {
      try {
        await run();
      } catch (err) {
        throw awsError(err, what, 'IAM');
      }
      changed(ctx, c);
    }
    changes.push(c);
  };
  const missing = async (what: string, get: () => Promise<unknown>): Promise<boolean> => {
    try {
      await get();
      return false;
    } catch (err) {
      if (isAwsError(err, 'NoSuchEntityException', 'NoSuchEntity')) return true;
      throw awsError(err, what, 'IAM');
    }
  };
  const roleMissing = await missing(`look up role ${name}`, () =>
    ctx.iam.send(new GetRoleCommand({ RoleName: name })),
  );
  if (roleMissing) {
    await step(
      {
        action: 'create',
        resource: 'iam_role',
        subject: name,
        detail: `for ${role} instances: ${summary(doc)}`,
      },
      `create role ${name}`,
      async () => {
        await ctx.iam.send(
          new CreateRoleCommand({
            RoleName: name,
            Path: '/filmgrain/',
            AssumeRolePolicyDocument: TRUST,
            Tags: tags,
          }),
        );
        await ctx.iam.send(
          new PutRolePolicyCommand({
            RoleName: name,
            PolicyName: POLICY_NAME,
            PolicyDocument: JSON.stringify(doc),
          }),
        );
      },
    );
  } else {
    let current: unknown;
    let others: string[] = [];
    try {
      const names = (await ctx.iam.send(new ListRolePoliciesCommand({ RoleName: name }))).PolicyNames ?? [];
      others = names.filter((n) => n !== POLICY_NAME);
      if (names.includes(POLICY_NAME)) {
        const r = await ctx.iam.send(new GetRolePolicyCommand({ RoleName: name, PolicyName: POLICY_NAME }));
        current = parseDoc(r.PolicyDocument);
      }
    } catch (err) {
      throw awsError(err, `read the policies of role ${name}`, 'IAM');
    }
    if (JSON.stringify(current) !== JSON.stringify(doc)) {
      await step(
        { action: 'update', resource: 'iam_role', subject: name, detail: `policy: ${summary(doc)}` },
        `put the policy of role ${name}`,
        () =>
          ctx.iam.send(
            new PutRolePolicyCommand({
              RoleName: name,
              PolicyName: POLICY_NAME,
              PolicyDocument: JSON.stringify(doc),
            }),
          ),
      );
    }
    for (const other of others) {
      await step(
        {
          action: 'update',
          resource: 'iam_role',
          subject: name,
          detail: `remove policy ${other}: not God's`,
        },
        `remove policy ${other} from role ${name}`,
        () => ctx.iam.send(new DeleteRolePolicyCommand({ RoleName: name, PolicyName: other })),
      );
    }
  }
  let hasRole = false;
  let profileMissing = true;
  try {
    const r = await ctx.iam.send(new GetInstanceProfileCommand({ InstanceProfileName: name }));
    profileMissing = false;
    hasRole = (r.InstanceProfile?.Roles ?? []).some((x) => x.RoleName === name);
  } catch (err) {
    if (!isAwsError(err, 'NoSuchEntityException', 'NoSuchEntity'))
      throw awsError(err, `look up instance profile ${name}`, 'IAM');
  }
  if (profileMissing) {
    await step(
      { action: 'create', resource: 'instance_profile', subject: name, detail: `with role ${name}` },
      `create instance profile ${name}`,
      async () => {
        await ctx.iam.send(
          new CreateInstanceProfileCommand({ InstanceProfileName: name, Path: '/filmgrain/', Tags: tags }),
        );
        await ctx.iam.send(
          new AddRoleToInstanceProfileCommand({ InstanceProfileName: name, RoleName: name }),
        );
      },
    );
  } else if (!hasRole) {
    await step(
      { action: 'update', resource: 'instance_profile', subject: name, detail: `add role ${name}` },
      `add role ${name} to instance profile ${name}`,
      () => ctx.iam.send(new AddRoleToInstanceProfileCommand({ InstanceProfileName: name, RoleName: name })),
    );
  }
  return { name, changes };
}
