// `up` on ec2 when AWS says no, against a real moto_server: missing IAM permissions (moto's own IAM
// enforcement, switched on with POST /moto-api/reset-auth, for a user whose policy lacks iam:CreateRole) and
// EC2 refusing instances. Moto 5.2 never refuses RunInstances for quota or capacity, so those two errors are
// injected in this test only, by a middleware on the EC2 client God is given, answering RunInstances with the
// service's own error shape; every other call reaches moto. Each gives a clear error naming what to do next,
// what was made before it is tagged, and `up` again converges without making anything twice. Run inside
// ensure.test.ts's suite, on its moto_server (one moto start per file is most of its time).
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import {
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeKeyPairsCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  EC2Client,
  EC2ServiceException,
} from '@aws-sdk/client-ec2';
import {
  CreateAccessKeyCommand,
  CreateUserCommand,
  IAMClient,
  PutUserPolicyCommand,
} from '@aws-sdk/client-iam';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GodConfigSchema } from '../../../god/core/config/schema.ts';
import { Ec2Provider } from '../../../god/core/providers/ec2.ts';
import { makeTempDir, type Moto } from '../../harness/index.ts';

const ZONES = ['us-east-1a', 'us-east-1b', 'us-east-1c'];
type Creds = { accessKeyId: string; secretAccessKey: string };

export function describeRefusals(getMoto: () => Moto): void {
  describe('ec2 up when AWS refuses (moto)', () => {
    let pub: string;
    let ec2: EC2Client;
    const closers: Array<() => unknown> = [];

    const auth = async (on: boolean) => {
      const r = await fetch(`${getMoto().endpoint}/moto-api/reset-auth`, {
        method: 'POST',
        body: on ? '0' : 'inf',
      });
      expect(r.ok).toBe(true);
    };

    /** A provider on fleet `fleet` whose AWS clients use `creds`; RunInstances answered by `refuse` when it returns an error. */
    function providerOf(fleet: string, creds?: Creds, refuse?: (n: number) => Error | undefined) {
      const cfg = { ...getMoto().clientConfig, ...(creds ? { credentials: creds } : {}) };
      const client = new EC2Client(cfg);
      let runs = 0;
      client.middlewareStack.add(
        (next, context) => async (args) => {
          if (context.commandName === 'RunInstancesCommand') {
            const err = refuse?.(++runs);
            if (err) throw err;
          }
          return next(args);
        },
        { step: 'initialize', name: 'refuseRunInstances' },
      );
      const config = GodConfigSchema.parse({
        provider: 'ec2',
        redis: { url: 'redis://127.0.0.1:1', prefix: 'fail:' },
        ec2: {
          region: 'us-east-1',
          key_pair: `${fleet}-key`,
          public_key: pub,
          ami_parameter: '/fg-fail/debian-12/{arch}',
          availability_zones: ZONES,
          access: { ssh_cidrs: ['203.0.113.7/32'] },
          fleet,
          ready: { serve: false },
        },
        roles: { keeper: { options: { archive: 's3://fg-archive/prod' } } },
      });
      const p = new Ec2Provider(
        config,
        { baseDir: process.cwd(), env: {} },
        {
          client,
          iam: new IAMClient(cfg),
          ssm: new SSMClient(cfg),
          pollMs: 100,
          endpointClients: async () => undefined,
        },
      );
      closers.push(() => p.close());
      return p;
    }

    const tagsOf = (tags?: Array<{ Key?: string; Value?: string }>) =>
      Object.fromEntries((tags ?? []).map((t) => [t.Key, t.Value]));
    /** Every instance, security group, subnet and key pair in the account that is not moto's default. */
    async function made() {
      const inst = (await ec2.send(new DescribeInstancesCommand({}))).Reservations!.flatMap(
        (r) => r.Instances!,
      );
      const sgs = (await ec2.send(new DescribeSecurityGroupsCommand({}))).SecurityGroups!.filter(
        (g) => g.GroupName !== 'default',
      );
      const subnets = (await ec2.send(new DescribeSubnetsCommand({}))).Subnets!.filter(
        (s) => !s.DefaultForAz,
      );
      const keys = (await ec2.send(new DescribeKeyPairsCommand({}))).KeyPairs!;
      const live = inst.filter((i) => i.State?.Name !== 'terminated');
      // what God could have left behind untagged (not the fleet's: never found, reused or cleaned up again)
      const untagged = [...live, ...sgs, ...subnets, ...keys]
        .filter((r) => tagsOf(r.Tags).project !== 'filmgrain')
        .map((r) => JSON.stringify(r).slice(0, 120))
        .sort();
      const mine =
        (fleet: string) =>
        <T extends { Tags?: Array<{ Key?: string; Value?: string }> }>(l: T[]) =>
          l.filter((r) => tagsOf(r.Tags).fleet === fleet);
      return { inst: live, sgs, subnets, keys, untagged, mine };
    }

    beforeAll(async () => {
      const dir = makeTempDir('ec2-fail');
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'key')]);
      pub = path.join(dir, 'key.pub');
      ec2 = new EC2Client(getMoto().clientConfig);
      const images = await ec2.send(
        new DescribeImagesCommand({ Filters: [{ Name: 'architecture', Values: ['x86_64'] }] }),
      );
      const ssm = new SSMClient(getMoto().clientConfig);
      await ssm.send(
        new PutParameterCommand({
          Name: '/fg-fail/debian-12/amd64',
          Type: 'String',
          Value: images.Images![0]!.ImageId!,
        }),
      );
      ssm.destroy();
    });
    afterAll(async () => {
      await auth(false).catch(() => {});
      for (const c of closers.reverse()) await c();
      ec2?.destroy();
    });

    it('IAM denied: names the permission, leaves only tagged resources, and up again converges', async () => {
      // an operator whose policy has everything but creating IAM roles
      const iam = new IAMClient(getMoto().clientConfig);
      closers.push(() => iam.destroy());
      await iam.send(new CreateUserCommand({ UserName: 'god-limited' }));
      await iam.send(
        new PutUserPolicyCommand({
          UserName: 'god-limited',
          PolicyName: 'almost',
          PolicyDocument: JSON.stringify({
            Version: '2012-10-17',
            Statement: [
              { Effect: 'Allow', Action: ['ec2:*', 'ssm:*', 'iam:Get*', 'iam:List*'], Resource: '*' },
            ],
          }),
        }),
      );
      const key = (await iam.send(new CreateAccessKeyCommand({ UserName: 'god-limited' }))).AccessKey!;
      const creds = { accessKeyId: key.AccessKeyId!, secretAccessKey: key.SecretAccessKey! };

      const untaggedBefore = (await made()).untagged;
      await auth(true);
      let err: unknown;
      try {
        await providerOf('iam', creds).up('keeper', 1);
      } catch (e) {
        err = e;
      } finally {
        await auth(false);
      }
      expect(err).toMatchObject({
        code: 'GOD_EC2_AUTH',
        message: expect.stringMatching(/^IAM: could not .*AccessDenied.*iam:CreateRole/),
        hint: expect.stringContaining('the iam:CreateRole permission'),
      });
      expect((err as { hint: string }).hint).toContain('`god up` again');
      // what up made before IAM said no (key pair, security group): tagged as the fleet's; no instance
      const m = await made();
      const before = { inst: m.mine('iam')(m.inst), sgs: m.mine('iam')(m.sgs), keys: m.mine('iam')(m.keys) };
      expect(before.inst).toEqual([]);
      expect(before.sgs).toHaveLength(1);
      expect(before.keys).toHaveLength(1);
      expect(m.untagged).toEqual(untaggedBefore);

      // the permission granted (here: moto's enforcement off again), up converges: one keeper, nothing twice
      await providerOf('iam', creds).up('keeper', 1);
      const a = await made();
      const after = { inst: a.mine('iam')(a.inst), sgs: a.mine('iam')(a.sgs), keys: a.mine('iam')(a.keys) };
      expect(after.inst.map((i) => tagsOf(i.Tags).role)).toEqual(['keeper']);
      expect(after.inst[0]!.IamInstanceProfile?.Arn).toMatch(/filmgrain-iam-keeper/);
      expect(after.sgs.map((g) => g.GroupId)).toEqual(before.sgs.map((g) => g.GroupId));
      expect(after.keys.map((k) => k.KeyPairId)).toEqual(before.keys.map((k) => k.KeyPairId));
    });

    it('quota and capacity refusals: a clear error naming the zone, tagged launches kept, up again converges', async () => {
      const refusal = (name: string, message: string) =>
        new EC2ServiceException({
          name,
          $fault: name.startsWith('Insufficient') ? 'server' : 'client',
          $metadata: {},
          message,
        });
      const fleetInst = async () =>
        (await made()).inst.filter(
          (i) => tagsOf(i.Tags).fleet === 'cap' && i.State?.Name !== 'shutting-down',
        );
      const untaggedBefore = (await made()).untagged;

      // the account's vCPU quota runs out at the second instance
      const quota = await providerOf('cap', undefined, (n) =>
        n === 2
          ? refusal(
              'VcpuLimitExceeded',
              'You have requested more vCPU capacity than your current vCPU limit of 2 allows.',
            )
          : undefined,
      )
        .up('endpoint', 3)
        .catch((e: unknown) => e);
      expect(quota).toMatchObject({
        code: 'GOD_EC2_CAPACITY',
        message: expect.stringMatching(
          /could not launch 1 endpoint instance\(s\) in us-east-1b: VcpuLimitExceeded/,
        ),
        hint: expect.stringContaining('Service Quotas'),
      });
      let live = await fleetInst();
      expect(live).toHaveLength(1);
      expect(tagsOf(live[0]!.Tags)).toMatchObject({ project: 'filmgrain', fleet: 'cap', role: 'endpoint' });

      // then AWS is out of the type in a zone
      const capacity = await providerOf('cap', undefined, (n) =>
        n === 1
          ? refusal(
              'InsufficientInstanceCapacity',
              'We currently do not have sufficient t3.small capacity in us-east-1b.',
            )
          : undefined,
      )
        .up('endpoint', 3)
        .catch((e: unknown) => e);
      expect(capacity).toMatchObject({
        code: 'GOD_EC2_CAPACITY',
        message: expect.stringContaining('InsufficientInstanceCapacity'),
        hint: expect.stringContaining('ec2.instance_types'),
      });
      expect(await fleetInst()).toHaveLength(1);
      expect((await made()).untagged).toEqual(untaggedBefore);

      // AWS says yes again: up launches exactly what is missing, spread over the zones
      await providerOf('cap').up('endpoint', 3);
      live = await fleetInst();
      expect(live).toHaveLength(3);
      expect(live.map((i) => i.Placement?.AvailabilityZone).sort()).toEqual(ZONES);
      for (const i of live)
        expect(tagsOf(i.Tags)).toMatchObject({ project: 'filmgrain', fleet: 'cap', role: 'endpoint' });
      // and once more: nothing to do
      expect(await providerOf('cap').plan({ op: 'up', role: 'endpoint', count: 3 })).toEqual([]);
    });
  });
}
