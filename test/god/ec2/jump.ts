// ec2 behind a bastion (ssh.jump): God reaches an instance at its private address, through the jump host, even
// when the instance also has a public one. Real moto_server for the instance; its private address is mapped to
// a network-namespace host that only the jump namespace reaches (test/harness/jump-hosts.ts), so only a
// connection to the private address, through the jump, arrives. Run inside ensure.test.ts's suite, on its
// moto_server.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { DescribeImagesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { IAMClient } from '@aws-sdk/client-iam';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GodConfigSchema } from '../../../god/core/config/schema.ts';
import { Ec2Provider } from '../../../god/core/providers/ec2.ts';
import { SshPool } from '../../../god/core/ssh/pool.ts';
import { makeTempDir, type Moto, skipWithout } from '../../harness/index.ts';
import { type JumpHosts, jumpHostsAvailable, startJumpHosts } from '../../harness/jump-hosts.ts';

export function describeJump(getMoto: () => Moto): void {
  describe.skipIf(
    skipWithout({ netns: jumpHostsAvailable() }, 'run as root with iproute2 and openssh-server'),
  )('ec2 through a jump host: the private address (moto + netns)', () => {
    let net: JumpHosts;
    let pub: string;
    const closers: Array<() => unknown> = [];

    beforeAll(async () => {
      net = await startJumpHosts();
      const dir = makeTempDir('ec2-jump');
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'key')]);
      pub = path.join(dir, 'key.pub');
      const ec2 = new EC2Client(getMoto().clientConfig);
      const images = await ec2.send(
        new DescribeImagesCommand({ Filters: [{ Name: 'architecture', Values: ['x86_64'] }] }),
      );
      const ssm = new SSMClient(getMoto().clientConfig);
      await ssm.send(
        new PutParameterCommand({
          Name: '/fg-jump/debian-12/amd64',
          Type: 'String',
          Value: images.Images![0]!.ImageId!,
        }),
      );
      ssm.destroy();
      ec2.destroy();
    }, 60_000);
    afterAll(async () => {
      for (const c of closers.reverse()) await c();
      await net?.stop();
    });

    it('deploy hosts are the private addresses, and SSH reaches them through the jump host', async () => {
      const cfg = getMoto().clientConfig;
      const config = GodConfigSchema.parse({
        provider: 'ec2',
        redis: { url: 'redis://127.0.0.1:1', prefix: 'jump:' },
        ssh: {
          user: net.user,
          key: net.privateKeyPath,
          known_hosts: net.knownHostsPath,
          connect_timeout: '5s',
          jump: { address: net.jump.address, port: net.jump.port },
        },
        ec2: {
          region: 'us-east-1',
          key_pair: 'jump-key',
          public_key: pub,
          ami_parameter: '/fg-jump/debian-12/{arch}',
          availability_zones: ['us-east-1a'],
          access: { ssh_cidrs: ['10.0.0.0/8'] },
          // the harness's hosts have their own keys, pinned in known_hosts already
          host_keys: 'accept-new',
          fleet: 'jump',
          ready: { serve: false },
        },
      });
      const map: Record<string, { address: string; port: number }> = {};
      const p = new Ec2Provider(
        config,
        { baseDir: process.cwd(), env: {} },
        {
          client: new EC2Client(cfg),
          iam: new IAMClient(cfg),
          ssm: new SSMClient(cfg),
          pollMs: 100,
          endpointClients: async () => undefined,
          addressMap: map,
        },
      );
      closers.push(() => p.close());
      await p.up('feeder', 1);
      const [i] = await p.instances('feeder', ['running']);
      // it has a public address too: God must not take it
      expect(i!.PublicIpAddress).toBeTruthy();
      expect(i!.PrivateIpAddress).toBeTruthy();
      // only the private address leads to the host behind the jump
      map[i!.PrivateIpAddress!] = { address: net.target.address, port: net.target.port };

      const [host] = await p.deployHosts();
      expect(host).toMatchObject({ name: i!.InstanceId, address: net.target.address });
      expect((await p.machines())[0]).toMatchObject({ id: i!.InstanceId, address: net.target.address });
      const pool = new SshPool(p.sshOptions());
      closers.push(() => pool.closeAll());
      const conn = await pool.get(host!);
      // the host sees God's connection come from the jump host's inside address
      expect((await conn.run('echo "$SSH_CONNECTION"')).trim().split(/\s+/)[0]).toBe(net.jumpInside);
    }, 90_000);
  });
}
