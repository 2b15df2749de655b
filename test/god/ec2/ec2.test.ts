// The ec2 provider against moto: tags, idempotent up (pending + running count), scale down, down by id and
// role, machines listing; then a deploy to its instances, mapped to loopback sshd hosts.
import path from 'node:path';
import {
  CreateKeyPairCommand,
  CreateSecurityGroupCommand,
  DescribeImagesCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GodConfigSchema } from '../../../god/core/config/schema.ts';
import { deploy } from '../../../god/core/deploy/deploy.ts';
import type { GodEvent } from '../../../god/core/events.ts';
import { Ec2Provider } from '../../../god/core/providers/ec2.ts';
import { redisContract } from '../../../protocol/redis-contract.ts';
import {
  makeTempDir,
  motoAvailable,
  skipWithout,
  sshAvailable,
  useMoto,
  useRedis,
  useSshHosts,
} from '../../harness/index.ts';
import { buildFixture } from '../deploy/fixtures/build.ts';

describe.skipIf(
  skipWithout(
    { moto_server: motoAvailable(), sshd: sshAvailable() },
    "pip install 'moto[server]' and apt-get install -y openssh-server",
  ),
)('ec2 provider (moto)', () => {
  const getMoto = useMoto();
  const getRedis = useRedis();
  const getFleet = useSshHosts(2);
  let provider: Ec2Provider;
  let events: GodEvent[];
  const env: NodeJS.ProcessEnv = {};

  beforeAll(async () => {
    // the standard credential chain reads these
    Object.assign(process.env, getMoto().env);
    Object.assign(env, process.env);
    const ec2 = new EC2Client({ region: 'us-east-1', endpoint: getMoto().endpoint });
    await ec2.send(new CreateKeyPairCommand({ KeyName: 'ops' }));
    const sg = await ec2.send(new CreateSecurityGroupCommand({ GroupName: 'fg', Description: 'filmgrain' }));
    const images = await ec2.send(
      new DescribeImagesCommand({ Filters: [{ Name: 'architecture', Values: ['x86_64'] }] }),
    );
    const ami = images.Images?.map((i) => i.ImageId!).find((id) => /^ami-[0-9a-f]+$/.test(id));
    ec2.destroy();
    const fleet = getFleet();
    const config = GodConfigSchema.parse({
      provider: 'ec2',
      redis: { url: getRedis().url, prefix: 'ec:' },
      ec2: {
        region: 'us-east-1',
        ami,
        key_pair: 'ops',
        security_group: sg.GroupId,
        fleet: 'test',
        tags: { team: 'ops' },
        // these tests drive instances only (and deploy by hand): up stops at running
        ready: { serve: false },
        // the loopback sshd hosts run the harness's host keys (in its known_hosts), not keys God made
        host_keys: 'accept-new',
      },
      ssh: { key: fleet.privateKeyPath, known_hosts: fleet.knownHostsPath },
      roles: { keeper: { env: { FG_STOP_TIMEOUT: '3s' } } },
    });
    events = [];
    provider = new Ec2Provider(
      config,
      { baseDir: process.cwd(), env, events: { emit: (e) => events.push(e) } },
      { pollMs: 100 },
    );
  });
  afterAll(async () => {
    await provider?.close();
  });

  it('up runs tagged instances and is idempotent (up 2 twice → 2)', async () => {
    await provider.up('endpoint', 2);
    await provider.up('endpoint', 2);
    const live = await provider.instances('endpoint', ['pending', 'running']);
    expect(live).toHaveLength(2);
    for (const i of live) {
      const tags = Object.fromEntries(i.Tags!.map((t) => [t.Key, t.Value]));
      expect(tags).toMatchObject({ project: 'filmgrain', fleet: 'test', role: 'endpoint', team: 'ops' });
      expect(i.State?.Name).toBe('running');
      expect(i.KeyName).toBe('ops');
    }
    expect(events.filter((e) => e.type === 'machine' && e.action === 'created')).toHaveLength(2);
    expect(events.filter((e) => e.type === 'machine' && e.action === 'exists')).toHaveLength(2);
    const machines = await provider.machines();
    expect(machines.map((m) => [m.provider, m.state, m.roles])).toEqual([
      ['ec2', 'running', ['endpoint']],
      ['ec2', 'running', ['endpoint']],
    ]);
    expect(machines.every((m) => /^\d+\.\d+\.\d+\.\d+$/.test(m.address ?? ''))).toBe(true);
    expect((await provider.expected()).map((p) => p.id).sort()).toEqual(
      live.map((i) => `endpoint-${i.InstanceId}`).sort(),
    );
  });

  it('up to fewer terminates the extras; down by id and by role', async () => {
    await provider.up('endpoint', 3);
    expect(await provider.instances('endpoint', ['pending', 'running'])).toHaveLength(3);
    await provider.up('endpoint', 1);
    const left = await provider.instances('endpoint', ['pending', 'running']);
    expect(left).toHaveLength(1);
    await provider.up('keeper', 1);
    await provider.down({ ids: [`endpoint-${left[0]!.InstanceId}`] });
    expect(await provider.instances('endpoint', ['pending', 'running'])).toHaveLength(0);
    expect(await provider.instances('keeper', ['pending', 'running'])).toHaveLength(1);
    await expect(provider.down({ ids: ['i-doesnotexist'] })).rejects.toMatchObject({ code: 'GOD_USAGE' });
    await provider.down({ role: 'keeper' });
    expect(await provider.instances(undefined, ['pending', 'running'])).toHaveLength(0);
  });

  it('deploys to its instances over SSH (moto IPs mapped to loopback sshd hosts)', async () => {
    await provider.up('keeper', 2);
    const inst = await provider.instances('keeper', ['running']);
    const fleet = getFleet();
    env.GOD_EC2_ADDRESS_MAP = JSON.stringify(
      Object.fromEntries(
        inst.map((i, n) => [
          i.PublicIpAddress ?? i.PrivateIpAddress,
          {
            address: fleet.hosts[n]!.address,
            port: fleet.hosts[n]!.port,
            base_dir: path.join(fleet.hosts[n]!.root, 'fg'),
          },
        ]),
      ),
    );
    const hosts = await provider.deployHosts();
    expect(hosts.map((h) => h.address).sort()).toEqual(fleet.hosts.map((h) => h.address).sort());
    const bundles = path.join(makeTempDir('ec2-bundles'), 'b');
    await buildFixture(bundles, { version: 'e1', roles: ['keeper'] });
    const redis = new Redis(getRedis().url);
    try {
      const res = await deploy({
        hosts,
        ssh: provider.sshOptions(),
        redis,
        keys: redisContract('ec:'),
        bundleDir: bundles,
        version: 'e1',
        healthTimeoutMs: 20_000,
        killMs: 5000,
      });
      expect(res.hosts.map((h) => [h.status, h.error])).toEqual([
        ['deployed', undefined],
        ['deployed', undefined],
      ]);
      for (const i of inst) {
        const hb = await redis.get(`ec:proc:keeper:keeper-${i.InstanceId}`);
        expect(JSON.parse(hb!)).toMatchObject({ version: 'e1', host: i.InstanceId });
      }
    } finally {
      redis.disconnect();
    }
    await provider.down();
    expect(await provider.instances(undefined, ['pending', 'running'])).toHaveLength(0);
  });
});
