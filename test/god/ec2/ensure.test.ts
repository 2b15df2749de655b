// `up` on ec2 from an empty moto account: the security group, key pair, instance profile and subnets are made
// once (tagged), instances launch hardened and spread over the zones, a second up changes nothing, and
// `plan` lists exactly what up then does. Real moto_server (EC2, IAM, SSM).
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import {
  AuthorizeSecurityGroupIngressCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeKeyPairsCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeVolumesCommand,
  EC2Client,
  ModifyInstanceAttributeCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import {
  GetInstanceProfileCommand,
  GetRolePolicyCommand,
  IAMClient,
  ListRolePoliciesCommand,
} from '@aws-sdk/client-iam';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GodConfigSchema, type GodConfigInput } from '../../../god/core/config/schema.ts';
import type { GodEvent } from '../../../god/core/events.ts';
import { Ec2Provider } from '../../../god/core/providers/ec2.ts';
import type { PlannedChange } from '../../../god/core/providers/types.ts';
import { makeTempDir, motoAvailable, skipWithout, useMoto } from '../../harness/index.ts';
import { describeJump } from './jump.ts';
import { describeRefusals } from './refusals.ts';

const ZONES = ['us-east-1a', 'us-east-1b', 'us-east-1c'];

describe.skipIf(skipWithout({ moto_server: motoAvailable() }, "pip install 'moto[server]'"))(
  'ec2 up ensures what instances need (moto)',
  () => {
    const getMoto = useMoto();
    const env: NodeJS.ProcessEnv = {};
    let ec2: EC2Client;
    let iam: IAMClient;
    let pub: string;
    const providers: Ec2Provider[] = [];
    let clients: Map<string, number> | undefined;
    let armImage: string;

    function configOf(over: Partial<NonNullable<GodConfigInput['ec2']>> = {}) {
      return GodConfigSchema.parse({
        provider: 'ec2',
        redis: { url: 'redis://127.0.0.1:1', prefix: 'ens:' },
        ec2: {
          region: 'us-east-1',
          key_pair: 'fleet-key',
          public_key: pub,
          ami_parameter: '/fg-test/debian-12/{arch}',
          availability_zones: ZONES,
          access: { ssh_cidrs: ['203.0.113.7/32'] },
          fleet: 'ens',
          tags: { team: 'ops' },
          // resources and launches only: up stops at running (netns.test.ts makes instances serve)
          ready: { serve: false },
          ...over,
        },
        roles: {
          keeper: {
            options: {
              archive: 's3://fg-archive/prod',
              alerts: { sms: '+15555550100', email: 'ops@example.com', email_from: 'god@example.com' },
            },
          },
        },
      });
    }
    function providerOf(over: Parameters<typeof configOf>[0] = {}) {
      const events: GodEvent[] = [];
      const p = new Ec2Provider(
        configOf(over),
        { baseDir: process.cwd(), env, events: { emit: (e) => events.push(e) } },
        { pollMs: 100, endpointClients: async () => clients },
      );
      providers.push(p);
      const changes = () =>
        events.flatMap((e) => (e.type === 'info' && e.data && 'change' in e.data ? [e.data.change] : []));
      return { p, events, changes };
    }
    /** a change without the instance's id (unknown before launch) */
    const shape = (c: PlannedChange) =>
      c.resource === 'machine' && c.action === 'create' ? { ...c, subject: '' } : c;

    beforeAll(async () => {
      Object.assign(process.env, getMoto().env);
      Object.assign(env, process.env);
      const dir = makeTempDir('ec2-ensure');
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'key')]);
      pub = path.join(dir, 'key.pub');
      ec2 = new EC2Client(getMoto().clientConfig);
      iam = new IAMClient(getMoto().clientConfig);
      // moto does not ship the distributions' public parameters (and refuses /aws/… names): the test
      // publishes its own through ec2.ami_parameter
      const images = await ec2.send(
        new DescribeImagesCommand({ Filters: [{ Name: 'architecture', Values: ['x86_64'] }] }),
      );
      const ssm = new SSMClient(getMoto().clientConfig);
      await ssm.send(
        new PutParameterCommand({
          Name: '/fg-test/debian-12/amd64',
          Type: 'String',
          Value: images.Images![0]!.ImageId!,
        }),
      );
      const arm = await ec2.send(
        new DescribeImagesCommand({ Filters: [{ Name: 'architecture', Values: ['arm64'] }] }),
      );
      armImage = arm.Images![0]!.ImageId!;
      await ssm.send(
        new PutParameterCommand({ Name: '/fg-test/debian-12/arm64', Type: 'String', Value: armImage }),
      );
      ssm.destroy();
    });
    afterAll(async () => {
      for (const p of providers) await p.close();
      ec2?.destroy();
      iam?.destroy();
    });

    it('plan lists what up endpoint 3 does; up makes it once, tagged, 3 hardened instances over 3 zones', async () => {
      const { p, changes } = providerOf();
      const planned = await p.plan({ op: 'up', role: 'endpoint', count: 3 });
      expect(planned.map((c) => `${c.action} ${c.resource}`)).toEqual([
        'create key_pair',
        'create security_group',
        'create security_group_rule',
        'create security_group_rule',
        'create subnet',
        'create subnet',
        'create subnet',
        'create machine',
        'create machine',
        'create machine',
      ]);
      expect(planned.filter((c) => c.resource === 'machine').map((c) => c.detail)).toEqual(
        ZONES.map((z) => expect.stringMatching(new RegExp(`^t3\\.small x86_64 ami-\\w+ in ${z}$`))),
      );
      await p.up('endpoint', 3);
      expect(changes().map(shape)).toEqual(planned.map(shape));

      const sgs = await ec2.send(
        new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'group-name', Values: ['filmgrain-ens'] }] }),
      );
      expect(sgs.SecurityGroups).toHaveLength(1);
      const sg = sgs.SecurityGroups![0]!;
      expect(Object.fromEntries(sg.Tags!.map((t) => [t.Key, t.Value]))).toMatchObject({
        project: 'filmgrain',
        fleet: 'ens',
        team: 'ops',
      });
      const rules = sg.IpPermissions!.flatMap((r) =>
        (r.IpRanges ?? []).map((x) => `${r.IpProtocol}/${r.FromPort}-${r.ToPort} ${x.CidrIp}`),
      );
      expect(rules.sort()).toEqual(['tcp/22-22 203.0.113.7/32', 'tcp/7070-7070 0.0.0.0/0']);
      const keys = await ec2.send(new DescribeKeyPairsCommand({ KeyNames: ['fleet-key'] }));
      expect(keys.KeyPairs).toHaveLength(1);
      const subnets = await ec2.send(
        new DescribeSubnetsCommand({ Filters: [{ Name: 'tag:fleet', Values: ['ens'] }] }),
      );
      expect(subnets.Subnets!.map((s) => s.AvailabilityZone).sort()).toEqual(ZONES);

      const live = await p.instances('endpoint', ['pending', 'running']);
      expect(live).toHaveLength(3);
      expect(live.map((i) => i.Placement?.AvailabilityZone).sort()).toEqual(ZONES);
      const described = await ec2.send(
        new DescribeInstancesCommand({ InstanceIds: live.map((i) => i.InstanceId!) }),
      );
      for (const i of described.Reservations!.flatMap((r) => r.Instances!)) {
        expect(i.MetadataOptions).toMatchObject({ HttpTokens: 'required', HttpPutResponseHopLimit: 1 });
        expect(i.SecurityGroups?.map((g) => g.GroupId)).toEqual([sg.GroupId]);
        expect(i.KeyName).toBe('fleet-key');
        expect(i.IamInstanceProfile).toBeUndefined(); // endpoints call no AWS API
        const vols = await ec2.send(
          new DescribeVolumesCommand({
            Filters: [{ Name: 'attachment.instance-id', Values: [i.InstanceId!] }],
          }),
        );
        expect(vols.Volumes!.length).toBeGreaterThan(0);
        expect(vols.Volumes!.every((v) => v.Encrypted)).toBe(true);
      }
    });

    it('a second up changes nothing: empty plan, no new resources', async () => {
      const { p, changes, events } = providerOf();
      expect(await p.plan({ op: 'up', role: 'endpoint', count: 3 })).toEqual([]);
      await p.up('endpoint', 3);
      expect(changes()).toEqual([]);
      expect(events.filter((e) => e.type === 'machine' && e.action === 'created')).toHaveLength(0);
      const sgs = await ec2.send(
        new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'tag:fleet', Values: ['ens'] }] }),
      );
      expect(sgs.SecurityGroups).toHaveLength(1);
      const subnets = await ec2.send(
        new DescribeSubnetsCommand({ Filters: [{ Name: 'tag:fleet', Values: ['ens'] }] }),
      );
      expect(subnets.Subnets).toHaveLength(3);
      expect(await p.instances('endpoint', ['pending', 'running'])).toHaveLength(3);
    });

    it('a rule not in the config (SSH from anywhere) is revoked; a new operator CIDR is added', async () => {
      const sg = (
        await ec2.send(
          new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'group-name', Values: ['filmgrain-ens'] }] }),
        )
      ).SecurityGroups![0]!;
      await ec2.send(
        new AuthorizeSecurityGroupIngressCommand({
          GroupId: sg.GroupId,
          IpPermissions: [
            { IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0' }] },
          ],
        }),
      );
      const { p, changes } = providerOf({ access: { ssh_cidrs: ['203.0.113.7/32', '198.51.100.0/24'] } });
      const planned = await p.plan({ op: 'up', role: 'endpoint', count: 3 });
      expect(planned).toEqual([
        {
          action: 'create',
          resource: 'security_group_rule',
          subject: 'filmgrain-ens tcp/22 from 198.51.100.0/24',
          detail: 'SSH from the operator',
        },
        {
          action: 'update',
          resource: 'security_group_rule',
          subject: 'filmgrain-ens tcp/22 from 0.0.0.0/0',
          detail: 'revoke: not in the config',
        },
      ]);
      await p.up('endpoint', 3);
      expect(changes()).toEqual(planned);
      expect(await p.plan({ op: 'up', role: 'endpoint', count: 3 })).toEqual([]);
      // back to the one operator address: the other is revoked again
      const back = providerOf();
      await back.p.up('endpoint', 3);
      expect(back.changes().map((c) => `${c.action} ${c.subject}`)).toEqual([
        'update filmgrain-ens tcp/22 from 198.51.100.0/24',
      ]);
    });

    it("the keeper's instance profile holds exactly its permissions", async () => {
      const { p, changes } = providerOf();
      const planned = await p.plan({ op: 'up', role: 'keeper', count: 1 });
      expect(planned.map((c) => `${c.action} ${c.resource} ${c.subject}`)).toEqual([
        'create iam_role filmgrain-ens-keeper',
        'create instance_profile filmgrain-ens-keeper',
        'create machine keeper 1/1',
      ]);
      await p.up('keeper', 1);
      expect(changes().map(shape)).toEqual(planned.map(shape));
      const names = await iam.send(new ListRolePoliciesCommand({ RoleName: 'filmgrain-ens-keeper' }));
      expect(names.PolicyNames).toEqual(['filmgrain']);
      const doc = (
        await iam.send(
          new GetRolePolicyCommand({ RoleName: 'filmgrain-ens-keeper', PolicyName: 'filmgrain' }),
        )
      ).PolicyDocument!;
      const policy = JSON.parse(doc.startsWith('%7B') ? decodeURIComponent(doc) : doc);
      expect(policy.Statement).toEqual([
        {
          Sid: 'ArchiveObjects',
          Effect: 'Allow',
          Action: ['s3:GetObject', 's3:PutObject'],
          Resource: 'arn:aws:s3:::fg-archive/prod/*',
        },
        {
          Sid: 'ArchiveList',
          Effect: 'Allow',
          Action: 's3:ListBucket',
          Resource: 'arn:aws:s3:::fg-archive',
          Condition: { StringLikeIfExists: { 's3:prefix': ['prod/*'] } },
        },
        { Sid: 'AlertSms', Effect: 'Allow', Action: 'sns:Publish', Resource: '*' },
        {
          Sid: 'AlertEmail',
          Effect: 'Allow',
          Action: 'ses:SendEmail',
          Resource: '*',
          Condition: { StringEquals: { 'ses:FromAddress': 'god@example.com' } },
        },
      ]);
      const prof = await iam.send(
        new GetInstanceProfileCommand({ InstanceProfileName: 'filmgrain-ens-keeper' }),
      );
      expect(prof.InstanceProfile!.Roles!.map((r) => r.RoleName)).toEqual(['filmgrain-ens-keeper']);
      const [keeper] = await p.instances('keeper', ['pending', 'running']);
      expect(keeper!.IamInstanceProfile?.Arn).toMatch(
        /instance-profile\/(filmgrain\/)?filmgrain-ens-keeper$/,
      );
      expect(await p.plan({ op: 'up', role: 'keeper', count: 1 })).toEqual([]);
    });

    it('scaling endpoints down terminates the ones with the fewest clients first', async () => {
      const { p } = providerOf();
      const live = await p.instances('endpoint', ['pending', 'running']);
      const [a, b, c] = live.map((i) => i.InstanceId!);
      clients = new Map([
        [a!, 40],
        [b!, 5],
        [c!, 900],
      ]);
      const planned = await p.plan({ op: 'up', role: 'endpoint', count: 1 });
      expect(planned.map((x) => `${x.action} ${x.subject}`)).toEqual([`terminate ${b}`, `terminate ${a}`]);
      expect((await p.plan({ op: 'down', target: { role: 'endpoint' } })).map((x) => x.subject)).toEqual([
        b,
        a,
        c,
      ]);
      await p.up('endpoint', 1);
      expect((await p.instances('endpoint', ['pending', 'running'])).map((i) => i.InstanceId)).toEqual([c]);
      clients = undefined;
    });

    it('a Graviton type boots the arm64 image; spot and termination protection per config; down lifts it', async () => {
      const { p } = providerOf({
        fleet: 'ens3',
        termination_protection: true,
        spot: ['feeder'],
        instance_types: { feeder: 't4g.small' },
      });
      const planned = await p.plan({ op: 'up', role: 'feeder', count: 1 });
      expect(planned.at(-1)?.detail).toBe(`t4g.small arm64 ${armImage} in us-east-1a, spot`);
      await p.up('feeder', 1);
      const [i] = await p.instances('feeder', ['pending', 'running']);
      expect(i).toMatchObject({ ImageId: armImage, InstanceType: 't4g.small', InstanceLifecycle: 'spot' });
      // moto ignores RunInstances' DisableApiTermination (real EC2 applies it): set it as EC2 would, then
      // check that moto refuses a plain terminate and that `god down` lifts the protection first
      await ec2.send(
        new ModifyInstanceAttributeCommand({
          InstanceId: i!.InstanceId!,
          DisableApiTermination: { Value: true },
        }),
      );
      await expect(
        ec2.send(new TerminateInstancesCommand({ InstanceIds: [i!.InstanceId!] })),
      ).rejects.toMatchObject({
        name: 'OperationNotPermitted',
      });
      await p.down({ role: 'feeder' });
      expect(await p.instances('feeder', ['pending', 'running'])).toHaveLength(0);
    });

    it("os without ami: the distribution's public SSM parameter is read (moto lacks it: a clear error)", async () => {
      const { p } = providerOf({ ami_parameter: undefined, os: 'ubuntu-24.04', fleet: 'ens2' });
      await expect(p.plan({ op: 'up', role: 'feeder', count: 1 })).rejects.toMatchObject({
        code: 'GOD_EC2',
        message: expect.stringContaining(
          'SSM parameter /aws/service/canonical/ubuntu/server/24.04/stable/current/amd64/hvm/ebs-gp3/ami-id',
        ),
      });
    });

    it('no operator CIDR and no bastion: a config error saying what to set', () => {
      const r = GodConfigSchema.safeParse({
        provider: 'ec2',
        redis: { url: 'redis://h:1' },
        ec2: { region: 'us-east-1', key_pair: 'k' },
      });
      expect(r.success).toBe(false);
      const issue = r.error!.issues[0]!;
      expect(issue.path).toEqual(['ec2', 'access', 'ssh_cidrs']);
      expect(issue.message).toMatch(/ssh_cidrs: \[203\.0\.113\.7\/32\].*bastion_security_group/);
      // a bastion's group instead of CIDRs is enough
      expect(
        GodConfigSchema.safeParse({
          provider: 'ec2',
          redis: { url: 'redis://h:1' },
          ec2: { region: 'us-east-1', key_pair: 'k', access: { bastion_security_group: 'sg-0abc' } },
        }).success,
      ).toBe(true);
    });

    describeRefusals(getMoto);
    describeJump(getMoto);
  },
);
