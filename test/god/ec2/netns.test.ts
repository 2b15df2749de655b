// `god up endpoint -n 2` on ec2 from an empty moto account to endpoints that serve: every moto instance is
// mapped to a host of its own (a network namespace with its own address and sshd), which "boots" by applying
// the instance's user-data as cloud-init would (the host key God made for it). God pins that key before its
// first connection, deploys the real endpoint bundle with `god deploy`'s code, checks its health (heartbeat
// with the release, protocol connect → set_movies) and only then publishes endpoints.json, which a client
// then follows. A second up changes nothing; an instance that never opens SSH and one whose host key is not
// God's each fail clearly, are terminated, and the others keep serving.
import fs from 'node:fs';
import path from 'node:path';
import {
  DescribeImagesCommand,
  DescribeSecurityGroupsCommand,
  DescribeInstanceAttributeCommand,
  EC2Client,
  type Instance,
  RunInstancesCommand,
} from '@aws-sdk/client-ec2';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { GodConfigSchema } from '../../../god/core/config/schema.ts';
import { deploy } from '../../../god/core/deploy/deploy.ts';
import { hostOfProcessId } from '../../../god/core/deploy/remote-fleet.ts';
import { downFlags, drainOptions } from '../../../god/core/drain.ts';
import { listEndpoints } from '../../../god/core/endpoints.ts';
import { downOp } from '../../../god/core/operations.ts';
import { connectFleetRedis } from '../../../god/core/redis.ts';
import { sleep } from '../../../kernel/sleep.ts';
import { MOVIES, Publisher } from '../../endpoint/helpers.ts';
import type { GodEvent } from '../../../god/core/events.ts';
import { type AddressMap, Ec2Provider } from '../../../god/core/providers/ec2.ts';
import { HOST_KEY_TAG } from '../../../god/core/providers/ec2/host-keys.ts';
import { READY_TAG } from '../../../god/core/providers/ec2/ready.ts';
import { FilmgrainClient } from '../../../protocol/client/client.ts';
import { parseEndpointList } from '../../../protocol/endpoint-list.ts';
import { redisContract } from '../../../protocol/redis-contract.ts';
import {
  makeTempDir,
  motoAvailable,
  type RedisServer,
  skipWithout,
  startRedis,
  useMoto,
} from '../../harness/index.ts';
import { bundleEndpoint, seedRuntime } from '../deploy/helpers.ts';
import { type NetnsFleet, type NetnsHost, netnsAvailable, startNetnsHosts } from '../../harness/netns.ts';

/** How a new instance boots: sshd with the key from its user-data, no sshd at all, or sshd with another key. */
type Boot = 'cloud-init' | 'no-ssh' | 'impostor';

describe.skipIf(
  skipWithout(
    { moto_server: motoAvailable(), netns: netnsAvailable() },
    "pip install 'moto[server]'; run as root with iproute2 and openssh-server",
  ),
)('ec2 up: ready means serving (moto + netns hosts)', () => {
  const getMoto = useMoto();
  let fleet: NetnsFleet;
  let redisServer: RedisServer;
  let redis: Redis;
  let ec2: EC2Client;
  let provider: Ec2Provider;
  /** the same fleet with ec2.ready.on_failure: keep */
  let keeping: Ec2Provider;
  let dir: string;
  const events: GodEvent[] = [];
  const env: NodeJS.ProcessEnv = {};
  const addressMap: AddressMap = {};
  /** boot of the next instances (default cloud-init), and what each instance booted as */
  const boots: Boot[] = [];
  const booted = new Map<string, { boot: Boot; host: NetnsHost }>();
  let imageId: string;
  /** the fleet with roles.endpoint.processes: 2 */
  let twoPerInstance: Ec2Provider;
  /** called with each event the providers emit, after it is recorded */
  let onEvent: ((e: GodEvent) => void) | undefined;

  // stands in for each instance's boot: cloud-init applies user-data's ssh_keys, then sshd starts
  async function boot(instances: Instance[]) {
    for (const i of instances) {
      if (booted.has(i.InstanceId!)) continue;
      if (!i.Tags?.some((t) => t.Key === HOST_KEY_TAG)) {
        // not God's: an address of our own bridge where nothing answers (God must not even try it)
        addressMap[i.PublicIpAddress ?? i.PrivateIpAddress!] = {
          address: fleet.gateway.replace(/\.1$/, '.250'),
        };
        continue;
      }
      const host = fleet.hosts[booted.size]!;
      const how = boots.shift() ?? 'cloud-init';
      const ud = await ec2.send(
        new DescribeInstanceAttributeCommand({ InstanceId: i.InstanceId!, Attribute: 'userData' }),
      );
      const cloudConfig = YAML.parse(Buffer.from(ud.UserData!.Value!, 'base64').toString('utf8'));
      if (how === 'cloud-init') await host.startSshd(cloudConfig.ssh_keys.ed25519_private);
      // the pinned Node already in place, as after an earlier deploy: its 52 MB upload would cost this file
      // ~10 s (the runtime's install over SSH is covered by test/god/deploy/runtime.test.ts)
      await seedRuntime(path.join(host.root, 'fg'));
      if (how === 'impostor') await host.startSshd();
      addressMap[i.PublicIpAddress ?? i.PrivateIpAddress!] = {
        address: host.address,
        port: 22,
        base_dir: path.join(host.root, 'fg'),
      };
      booted.set(i.InstanceId!, { boot: how, host });
    }
  }

  const endpointsJson = () => path.join(dir, 'archive', 'endpoints.json');
  const serving = async () =>
    (await provider.instances('endpoint', ['pending', 'running'])).map((i) => i.InstanceId!).sort();

  beforeAll(async () => {
    fleet = await startNetnsHosts(6);
    redisServer = await startRedis({ host: fleet.gateway });
    redis = new Redis(redisServer.url);
    Object.assign(process.env, getMoto().env);
    Object.assign(env, process.env);
    dir = makeTempDir('ec2-netns');
    // the current release: the real endpoint bundle, as `npm run build` makes it
    const bundles = path.join(dir, 'bundles');
    await bundleEndpoint(bundles, 'n1');
    Object.assign(env, { GOD_BUNDLE_DIR: bundles, GOD_VERSION: 'n1', GOD_PROCESS_MODE: 'supervisor' });
    ec2 = new EC2Client(getMoto().clientConfig);
    // moto lacks the distributions' public SSM parameters: publish one for ec2.ami_parameter
    const images = await ec2.send(
      new DescribeImagesCommand({ Filters: [{ Name: 'architecture', Values: ['x86_64'] }] }),
    );
    imageId = images.Images![0]!.ImageId!;
    const ssm = new SSMClient(getMoto().clientConfig);
    await ssm.send(
      new PutParameterCommand({
        Name: '/nn/debian-12/amd64',
        Type: 'String',
        Value: images.Images![0]!.ImageId!,
      }),
    );
    ssm.destroy();
    const config = GodConfigSchema.parse({
      provider: 'ec2',
      redis: { url: redisServer.url, prefix: 'nn:' },
      ec2: {
        region: 'us-east-1',
        key_pair: 'fleet-key',
        public_key: `${fleet.privateKeyPath}.pub`,
        ami_parameter: '/nn/debian-12/{arch}',
        access: { ssh_cidrs: ['203.0.113.7/32'] },
        fleet: 'nn',
        ready: { ssh_timeout: '2s', health_timeout: '30s' },
      },
      ssh: { user: 'root', key: fleet.privateKeyPath, known_hosts: path.join(dir, 'ssh', 'known_hosts') },
      roles: {
        endpoint: { env: { FG_ENDPOINT_DRAIN_GRACE: '200ms' } },
        keeper: { options: { archive: `file://${path.join(dir, 'archive')}` } },
      },
    });
    const providerOf = (c: typeof config) =>
      new Ec2Provider(
        c,
        {
          baseDir: dir,
          env,
          events: {
            emit: (e) => {
              events.push(e);
              onEvent?.(e);
            },
          },
        },
        { pollMs: 100, addressMap, onRunning: boot },
      );
    provider = providerOf(config);
    twoPerInstance = providerOf({
      ...config,
      roles: { ...config.roles, endpoint: { ...config.roles.endpoint, processes: 2 } },
    });
    keeping = providerOf({
      ...config,
      ec2: { ...config.ec2!, ready: { ...config.ec2!.ready, on_failure: 'keep' } },
    });
  }, 60_000);

  afterAll(async () => {
    await provider?.close();
    await keeping?.close();
    await twoPerInstance?.close();
    ec2?.destroy();
    redis?.disconnect();
    // the role processes run inside the namespaces: stopping them goes with the namespaces
    await fleet?.stop();
    await redisServer?.stop();
  });

  it('up endpoint -n 2 from an empty account: pinned host keys, deployed, healthy, then published', async () => {
    await provider.up('endpoint', 2);
    const live = await provider.instances('endpoint', ['running']);
    expect(live).toHaveLength(2);
    const hosts = live.map((i) => booted.get(i.InstanceId!)!.host);

    // the key God made is the one the host runs with, and it was pinned before God connected
    const known = fs.readFileSync(path.join(dir, 'ssh', 'known_hosts'), 'utf8');
    for (const [k, i] of live.entries()) {
      const tag = i.Tags!.find((t) => t.Key === HOST_KEY_TAG)!.Value!;
      expect(tag).toBe(hosts[k]!.hostPublicKey);
      expect(known).toContain(`${hosts[k]!.address} ${tag}\n`);
      expect(i.Tags!.find((t) => t.Key === READY_TAG)?.Value).toBe('n1');
    }
    expect(fs.statSync(path.join(dir, 'ssh', 'known_hosts')).mode & 0o777).toBe(0o600);

    // order: each host's ssh, then its health check, and only after all of them endpoints.json
    const at = (pred: (e: GodEvent) => boolean) => events.findIndex(pred);
    const published = at((e) => e.type === 'info' && e.message.startsWith('published endpoints.json'));
    expect(published).toBeGreaterThan(0);
    for (const i of live) {
      const id = i.InstanceId!;
      const ssh = at((e) => e.type === 'host' && e.step === 'ssh' && e.host === id && e.phase === 'end');
      const health = at(
        (e) => e.type === 'host' && e.step === 'health' && e.host === id && e.phase === 'end',
      );
      expect(events[ssh]).toMatchObject({ ok: true });
      expect(events[health]).toMatchObject({ ok: true });
      expect(ssh).toBeLessThan(health);
      expect(health).toBeLessThan(published);
      const beat = JSON.parse((await redis.get(`nn:proc:endpoint:endpoint-${id}`))!);
      expect(beat).toMatchObject({ version: 'n1', host: id });
    }
    // no private key anywhere in what God reported
    expect(JSON.stringify(events)).not.toContain('PRIVATE KEY');

    const list = parseEndpointList(fs.readFileSync(endpointsJson(), 'utf8'));
    expect(list.endpoints.map((e) => `${e.host}:${e.port}`).sort()).toEqual(
      hosts.map((h) => `${h.address}:7070`).sort(),
    );

    // a client that knows only endpoints.json gets its movies from one of the new endpoints
    const client = new FilmgrainClient({ endpoints: endpointsJson(), app: 'test', version: '1' });
    try {
      const movies = new Promise((resolve) => client.once('set_movies', resolve));
      const connected = new Promise<{ host: string }>((resolve) => client.once('connected', resolve));
      await client.start();
      await movies;
      expect(hosts.map((h) => h.address)).toContain((await connected).host);
    } finally {
      client.close();
    }
  }, 60_000);

  it('a second up changes nothing', async () => {
    const before = { ids: await serving(), list: fs.readFileSync(endpointsJson(), 'utf8') };
    const from = events.length;
    await provider.up('endpoint', 2);
    const after = events.slice(from);
    expect(after.filter((e) => e.type === 'machine' && e.action === 'created')).toEqual([]);
    expect(after.filter((e) => e.type === 'host')).toEqual([]);
    expect(await serving()).toEqual(before.ids);
    expect(fs.readFileSync(endpointsJson(), 'utf8')).toBe(before.list);
  }, 30_000);

  it('god deploy from a machine with an empty known_hosts: the keys come from the instances, not first use', async () => {
    const file = path.join(dir, 'ssh', 'known_hosts');
    const had = fs.readFileSync(file, 'utf8');
    fs.rmSync(file);
    const hosts = await provider.deployHosts();
    expect(fs.readFileSync(file, 'utf8').split('\n').sort()).toEqual(had.split('\n').sort());
    const res = await deploy({
      hosts,
      ssh: { ...provider.sshOptions(), acceptNew: false },
      redis,
      keys: redisContract('nn:'),
      bundleDir: env.GOD_BUNDLE_DIR,
      version: 'n1',
      mode: 'supervisor',
    });
    expect(res.hosts.map((h) => [h.status, h.error])).toEqual([
      ['unchanged', undefined],
      ['unchanged', undefined],
    ]);
  }, 30_000);

  it('an instance that never opens SSH and one with a foreign host key fail clearly; the others serve on', async () => {
    const good = await serving();
    boots.push('no-ssh', 'impostor');
    const err = await provider.up('endpoint', 4).then(
      () => undefined,
      (e: unknown) => e as Error & { code?: string; hint?: string },
    );
    expect(err?.code).toBe('GOD_EC2_NOT_READY');
    const byBoot = (b: Boot) => [...booted.entries()].find(([, v]) => v.boot === b)![0];
    const silent = byBoot('no-ssh');
    const impostor = byBoot('impostor');
    expect(err!.message).toContain(`${silent} failed at ssh: ${silent} did not open SSH at`);
    expect(err!.message).toContain(
      `${impostor} failed at host key: ${impostor}: its SSH host key is not the one God generated for it`,
    );
    expect(err!.message).toMatch(/was terminated/);
    // the bounded wait said how it went, attempt by attempt
    const waits = events.filter((e) => e.type === 'host' && e.step === 'ssh' && e.host === silent);
    expect(waits.at(0)).toMatchObject({ phase: 'start', progress: 0 });
    expect(waits.filter((e) => e.type === 'host' && e.phase === 'progress').length).toBeGreaterThan(1);
    expect(waits.at(-1)).toMatchObject({ phase: 'end', ok: false });
    expect(waits.at(-1)).toHaveProperty('error', expect.stringMatching(/connection refused/));
    expect(err!.hint).toMatch(/god up endpoint/);
    // both terminated; nothing was deployed to the impostor; the first two still serve and are still listed
    expect(await serving()).toEqual(good);
    const impostorDisk = path.join(booted.get(impostor)!.host.root, 'fg');
    expect(fs.readdirSync(impostorDisk)).toEqual(['runtimes']);
    const list = parseEndpointList(fs.readFileSync(endpointsJson(), 'utf8'));
    expect(list.endpoints).toHaveLength(2);
  }, 60_000);

  it('on_failure: keep leaves the failed instance running, says so, and the next up tries it again', async () => {
    const good = await serving();
    boots.push('no-ssh');
    const err = await keeping.up('endpoint', 3).then(
      () => undefined,
      (e: unknown) => e as Error & { code?: string; hint?: string },
    );
    const kept = (await serving()).filter((id) => !good.includes(id));
    expect(kept).toHaveLength(1);
    expect(err?.code).toBe('GOD_EC2_NOT_READY');
    expect(err!.message).toContain(`${kept[0]} failed at ssh: ${kept[0]} did not open SSH`);
    expect(err!.message).toContain('(kept)');
    expect(err!.message).toContain(`aws ec2 get-console-output --instance-id ${kept[0]}`);
    expect(err!.hint).toMatch(/retries the kept instances/);
    // not ready: the next up goes through the steps again for it (and fails the same way)
    const from = events.length;
    await expect(keeping.up('endpoint', 3)).rejects.toMatchObject({ code: 'GOD_EC2_NOT_READY' });
    expect(events.slice(from).some((e) => e.type === 'host' && e.step === 'ssh' && e.host === kept[0])).toBe(
      true,
    );
    await keeping.down({ ids: kept });
    expect(await serving()).toEqual(good);
  }, 30_000);

  it('an instance God did not launch with a host key is never connected to nor terminated', async () => {
    const good = await serving();
    const r = await ec2.send(
      new RunInstancesCommand({
        ImageId: imageId,
        InstanceType: 't3.small',
        MinCount: 1,
        MaxCount: 1,
        TagSpecifications: [
          {
            ResourceType: 'instance',
            Tags: [
              { Key: 'project', Value: 'filmgrain' },
              { Key: 'fleet', Value: 'nn' },
              { Key: 'role', Value: 'endpoint' },
            ],
          },
        ],
      }),
    );
    const legacy = r.Instances![0]!.InstanceId!;
    const from = events.length;
    const err = await provider.up('endpoint', 3).then(
      () => undefined,
      (e: unknown) => e as Error & { code?: string },
    );
    expect(err?.code).toBe('GOD_EC2_NOT_READY');
    expect(err!.message).toContain(`${legacy} failed at host key: ${legacy} carries no host key made by God`);
    expect(err!.message).toContain('(kept)');
    expect(events.slice(from).filter((e) => e.type === 'host')).toEqual([]);
    expect(await serving()).toEqual([...good, legacy].sort());
    await provider.down({ ids: [legacy] });
  }, 30_000);

  it('a deploy that cannot start (another holds the lock) keeps the new instance: nothing is wrong with it', async () => {
    const good = await serving();
    const lock = redisContract('nn:').deployLock;
    await redis.set(lock, JSON.stringify({ owner: 'alice@laptop', what: 'deploy v9' }), 'PX', 60_000);
    try {
      const err = await provider.up('endpoint', 3).then(
        () => undefined,
        (e: unknown) => e as Error & { code?: string },
      );
      const fresh = (await serving()).filter((id) => !good.includes(id));
      expect(fresh).toHaveLength(1);
      expect(err?.code).toBe('GOD_EC2_NOT_READY');
      expect(err!.message).toContain(
        `${fresh[0]} failed at deploy: another deploy holds the deploy lock: alice@laptop (deploy v9)`,
      );
      expect(err!.message).toContain('(kept)');
      await provider.down({ ids: fresh });
    } finally {
      await redis.del(lock);
    }
  }, 30_000);

  it('processes: 2 per instance (own ports, group opens the range), then down endpoint -n 1 with 300 clients: each moves before the instance goes', async () => {
    const keys = redisContract('nn:');
    const pub = new Publisher(redisServer.url, 'nn:');
    const fleetRedis = () => connectFleetRedis(redisServer.url, { prefix: 'nn:', name: 'test' });
    const clients: FilmgrainClient[] = [];
    let ticker: NodeJS.Timeout | undefined;
    try {
      await pub.catalog(MOVIES);
      // up converges the group to the range; the instances are there and ready already
      await twoPerInstance.up('endpoint', 2);
      const group = await ec2.send(
        new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'group-name', Values: ['filmgrain-nn'] }] }),
      );
      expect(
        group
          .SecurityGroups![0]!.IpPermissions!.filter((r) => r.FromPort !== 22)
          .map((r) => [r.FromPort, r.ToPort]),
      ).toEqual([[7070, 7071]]);
      // god deploy starts the second process on each instance; each is checked and admitted on its own
      const hosts = await twoPerInstance.deployHosts();
      const ids = hosts.flatMap((h) => h.processes.map((p) => p.id)).sort();
      expect(ids).toEqual(hosts.flatMap((h) => [`endpoint-${h.name}`, `endpoint-${h.name}-p2`]).sort());
      expect((await twoPerInstance.expected()).map((p) => p.id).sort()).toEqual(ids);
      const res = await deploy({
        hosts,
        ssh: twoPerInstance.sshOptions(),
        redis,
        keys,
        bundleDir: env.GOD_BUNDLE_DIR,
        version: 'n1',
        mode: 'supervisor',
      });
      expect(res.hosts.map((h) => h.error)).toEqual([undefined, undefined]);
      expect(Object.keys(await redis.hgetall(keys.endpointAdmitted)).sort()).toEqual(
        expect.arrayContaining(ids),
      );
      const fr = await fleetRedis();
      const records = (await listEndpoints(fr)).endpoints.filter((e) => ids.includes(e.id));
      fr.close();
      expect(records.map((e) => `${e.id} ${e.port}`).sort()).toEqual(
        hosts.flatMap((h) => [`endpoint-${h.name} 7070`, `endpoint-${h.name}-p2 7071`]).sort(),
      );

      // 300 clients over the four endpoints, each on movie 1, a tweet every 100 ms
      const N = 300;
      const where: string[] = [];
      const lastTweet: number[] = [];
      const addresses = records.map((e) => ({ host: e.host, port: e.port, tls: false }));
      for (let k = 0; k < N; k++) {
        const c = new FilmgrainClient({ endpoints: addresses, app: 'test', version: '1', keepaliveMs: 0 });
        c.on('connected', (t) => {
          where[k] = `${t.host}:${t.port}`;
        });
        c.on('post_tweet', () => {
          lastTweet[k] = Date.now();
        });
        c.startFeed(1);
        clients.push(c);
      }
      ticker = setInterval(() => void pub.publish(1, [pub.tweet()]).catch(() => {}), 100);
      await Promise.all(clients.map((c) => c.start()));
      const everyTweetSince = async (t: number, ms: number) => {
        const until = Date.now() + ms;
        while (Date.now() < until && clients.some((_, k) => !(lastTweet[k]! > t))) await sleep(100);
        return clients.filter((_, k) => !(lastTweet[k]! > t)).length;
      };
      expect(await everyTweetSince(0, 20_000)).toBe(0);

      // down -n 1 takes a whole instance (its two processes, their clients together), draining both first
      const from = events.length;
      let movedAtTerminate: string[] | undefined;
      onEvent = (e) => {
        if (e.type === 'machine' && e.action === 'terminated') movedAtTerminate = [...where];
      };
      const r = await downOp({
        provider: twoPerInstance,
        role: 'endpoint',
        count: 1,
        drain: drainOptions(downFlags({ drainTimeout: '20s' }), { redis: fleetRedis }),
        events: { emit: (e) => events.push(e) },
      });
      onEvent = undefined;
      expect(r.ids).toHaveLength(2);
      const gone = hostOfProcessId(r.ids![0]!);
      expect(r.ids!.sort()).toEqual([`endpoint-${gone}`, `endpoint-${gone}-p2`]);
      const drains = events
        .slice(from)
        .filter((e) => e.type === 'host' && e.step === 'drain' && e.phase === 'end');
      expect(drains.map((e) => [e.type === 'host' && e.host, e.type === 'host' && e.ok]).sort()).toEqual([
        [`endpoint-${gone}`, true],
        [`endpoint-${gone}-p2`, true],
      ]);
      // when the instance was terminated no client was on it any more; all of them get tweets again
      const goneAddress = booted.get(gone)!.host.address;
      expect(movedAtTerminate).toHaveLength(N);
      expect(movedAtTerminate!.filter((w) => w.startsWith(`${goneAddress}:`))).toEqual([]);
      expect(await serving()).not.toContain(gone);
      expect(await everyTweetSince(Date.now(), 10_000)).toBe(0);
      expect(where.filter((w) => w.startsWith(`${goneAddress}:`))).toEqual([]);
    } finally {
      clearInterval(ticker);
      for (const c of clients) c.close();
      await pub.close();
    }
  }, 90_000);
});
