// What every ec2 piece works with: the three AWS clients, the ec2 config, names and tags of the fleet's
// resources, and how a change is reported (returned for plan, emitted as an event once done).
import type { EC2Client, Tag } from '@aws-sdk/client-ec2';
import type { IAMClient } from '@aws-sdk/client-iam';
import type { SSMClient } from '@aws-sdk/client-ssm';
import type { Role } from '../../../../protocol/redis-contract.ts';
import { UserError } from '../../../../kernel/errors.ts';
import type { Ec2Config, GodConfig } from '../../config/schema.ts';
import type { EventSink } from '../../events.ts';
import { describeChange, type PlannedChange } from '../types.ts';

export const PROJECT_TAG = 'filmgrain';

export interface Ec2Ctx {
  ec2: EC2Client;
  iam: IAMClient;
  ssm: SSMClient;
  config: GodConfig;
  ec2c: Ec2Config;
  events: EventSink;
  /** relative paths in the config (public_key) start here */
  baseDir: string;
}

/**
 * plan: only read, and say what would change; apply: make each change, then report it. Every ensure* runs the
 * same code both ways, so a plan lists exactly what the following `up` does.
 */
export type Mode = 'plan' | 'apply';

/** filmgrain-<fleet>: the name of the fleet's security group, subnets and IAM roles (with the role). */
export const baseName = (ec2c: Ec2Config) => `${PROJECT_TAG}-${ec2c.fleet}`;

/** The tags on everything God creates: the config's, then project, fleet (and role) which God filters by. */
export function fleetTags(ec2c: Ec2Config, extra: Record<string, string> = {}): Tag[] {
  return Object.entries({ ...ec2c.tags, project: PROJECT_TAG, fleet: ec2c.fleet, ...extra }).map(
    ([Key, Value]) => ({ Key, Value }),
  );
}

export const tagFilters = (ec2c: Ec2Config) => [
  { Name: 'tag:project', Values: [PROJECT_TAG] },
  { Name: 'tag:fleet', Values: [ec2c.fleet] },
];

/** A change is done: tell the event stream (plain output prints describeChange, --json carries the change). */
export function changed(ctx: Ec2Ctx, c: PlannedChange): PlannedChange {
  ctx.events.emit({ type: 'info', message: describeChange(c), data: { change: c } });
  return c;
}

export const instanceTypeOf = (ec2c: Ec2Config, role: Role) =>
  ec2c.instance_types[role] ?? ec2c.instance_type;

/** An AWS SDK error as a UserError: what failed, the service's words, and what to check. */
export function awsError(err: unknown, what: string, service = 'EC2'): UserError {
  if (err instanceof UserError) return err;
  const e = err as { name?: string; message?: string; code?: string };
  const name = e.name ?? e.code ?? 'Error';
  const creds =
    /credential|CredentialsProviderError|AuthFailure|UnrecognizedClient|InvalidClientTokenId/i.test(
      `${name} ${e.message}`,
    );
  const denied = /AccessDenied|UnauthorizedOperation/i.test(name);
  const net = /ECONNREFUSED|ENOTFOUND|ETIMEDOUT|socket hang up/i.test(String(e.message));
  // an account quota (instances, vCPUs, spot) or AWS out of that type in that zone: nothing the config got wrong
  const quota = /InstanceLimitExceeded|VcpuLimitExceeded|MaxSpotInstanceCountExceeded/.test(name);
  const capacity = /^Insufficient\w*Capacity$/.test(name);
  // "… is not authorized to perform: iam:CreateRole on resource …": the permission to grant
  const action = /perform:? ([\w-]+:[\w*-]+)/.exec(String(e.message))?.[1];
  const again = 'then `god up` again: what it made so far is tagged and reused, nothing is made twice.';
  return new UserError(`${service}: could not ${what}: ${name}: ${e.message ?? String(err)}`, {
    code:
      creds || denied
        ? 'GOD_EC2_AUTH'
        : net
          ? 'GOD_EC2_UNREACHABLE'
          : quota || capacity
            ? 'GOD_EC2_CAPACITY'
            : 'GOD_EC2',
    hint: creds
      ? 'Set AWS credentials (AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or an instance role) with EC2 permissions.'
      : denied
        ? `Give the credentials God runs with ${action ? `the ${action} permission` : `the ${service} permission named above`} (god/examples/README.md lists them all), ${again}`
        : net
          ? 'Check the network and ec2.endpoint / AWS_ENDPOINT_URL.'
          : quota
            ? `The account's EC2 quota is used up: ask for more (Service Quotas, "Running On-Demand instances" vCPUs, or spot) or ask for fewer or smaller instances (-n, ec2.instance_types), ${again}`
            : capacity
              ? `AWS has no capacity for that instance type in that zone now: wait and retry, or use another type (ec2.instance_types) or zones (ec2.availability_zones), ${again}`
              : 'Check the ec2 section of god.config.yaml (ami/os, key_pair, access, subnets, instance types) and your EC2 limits.',
    cause: err,
  });
}

/** true when `err` is the AWS error named `name` (the SDK's error name, or its Code). */
export function isAwsError(err: unknown, ...names: string[]): boolean {
  const e = err as { name?: string; Code?: string };
  return names.some((n) => e?.name === n || e?.Code === n);
}
