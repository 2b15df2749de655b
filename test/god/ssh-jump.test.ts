// Hosts in a private subnet reached through a jump host (ssh.jump; ssh2 forwardOut on the jump connection):
// a target sshd in a network namespace that only the jump namespace reaches. The pool (deploy, status, logs
// and health checks all take their connections from it) and the ssh provider reach it through the jump; a
// direct connection fails; the jump host's key is pinned like any host's.
import fs from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../god/core/config/load.ts';
import { sshOptionsFrom } from '../../god/core/deploy/remote-fleet.ts';
import { nullSink } from '../../god/core/events.ts';
import { SshProvider } from '../../god/core/providers/ssh.ts';
import { describeChange } from '../../god/core/providers/types.ts';
import { SshConnection } from '../../god/core/ssh/connection.ts';
import { SshPool } from '../../god/core/ssh/pool.ts';
import type { SshOptions } from '../../god/core/ssh/types.ts';
import { Redis } from 'ioredis';
import { deploy } from '../../god/core/deploy/deploy.ts';
import { checkEndpoint } from '../../god/core/deploy/health.ts';
import { redisContract } from '../../protocol/redis-contract.ts';
import { killTracked, makeTempDir, skipWithout, spawnTracked } from '../harness/index.ts';
import { type JumpHosts, jumpHostsAvailable, startJumpHosts } from '../harness/jump-hosts.ts';
import { godIn } from './cli-helpers.ts';
import { buildFixture } from './deploy/fixtures/build.ts';
import { bundleEndpoint, PREFIX, seedRuntime } from './deploy/helpers.ts';

describe.skipIf(skipWithout({ netns: jumpHostsAvailable() }, 'run as root with iproute2 and openssh-server'))(
  'SSH through a jump host',
  () => {
    let net: JumpHosts;
    let dir: string;
    let sleeper: ReturnType<typeof spawnTracked>;
    const configObject = (jump: boolean) => ({
      provider: 'ssh',
      redis: { url: 'redis://127.0.0.1:1' },
      ssh: {
        user: net.user,
        key: net.privateKeyPath,
        known_hosts: net.knownHostsPath,
        connect_timeout: '5s',
        ...(jump ? { jump: { address: net.jump.address, port: net.jump.port } } : {}),
        hosts: [
          {
            name: 'target',
            address: net.target.address,
            roles: ['endpoint'],
            base_dir: path.join(net.target.root, 'fg'),
          },
        ],
      },
    });
    const config = (jump: boolean) => parseConfigText(stringify(configObject(jump)), 'god.config.yaml');
    const targetOf = () => ({ name: 'target', address: net.target.address, port: 22 });

    beforeAll(async () => {
      net = await startJumpHosts({ redis: true });
      dir = makeTempDir('ssh-jump');
      // the target runs endpoint-target (a live pid in run/, as the host agent leaves it)
      const run = path.join(net.target.root, 'fg', 'run');
      fs.mkdirSync(run, { recursive: true, mode: 0o700 });
      fs.writeFileSync(
        path.join(run, 'endpoint-target.json'),
        JSON.stringify({ role: 'endpoint', id: 'endpoint-target' }),
      );
      sleeper = spawnTracked('sleep', ['600'], { name: 'endpoint-target' });
      fs.writeFileSync(path.join(run, 'endpoint-target.pid'), String(sleeper.pid));
    }, 30_000);
    afterAll(async () => {
      if (sleeper) await killTracked(sleeper);
      await net?.stop();
    });

    it('the config names the jump host; its options carry it, key path resolved', () => {
      const o = sshOptionsFrom(config(true), dir, {});
      expect(o.jump).toEqual({
        address: net.jump.address,
        port: 22,
        user: undefined,
        privateKeyPath: undefined,
      });
      expect(() =>
        parseConfigText(
          stringify({ provider: 'ssh', ssh: { jump: { host: 'x' }, hosts: [] } }),
          'god.config.yaml',
        ),
      ).toThrow(/jump/);
    });

    it('the pool reaches the target through the jump host; a direct connection fails', async () => {
      const opts = sshOptionsFrom(config(true), dir, {});
      const pool = new SshPool(opts);
      try {
        const c = await pool.get(targetOf());
        // the target sees the connection come from the jump host's inside address, not from God
        const seen = (await c.run('echo "$SSH_CONNECTION $FG_HOST_NAME"')).trim().split(/\s+/);
        expect(seen[0]).toBe(net.jumpInside);
        expect(seen.at(-1)).toBe('target');
        // one connection per host, shared
        expect(await pool.get(targetOf())).toBe(c);
      } finally {
        await pool.closeAll();
      }
      const direct: SshOptions = { ...opts, jump: undefined };
      await expect(SshConnection.connect(targetOf(), direct)).rejects.toMatchObject({
        code: 'GOD_SSH_UNREACHABLE',
      });
    });

    it("the ssh provider's reads (its plan reads each host's state over SSH) go through the jump", async () => {
      const through = new SshProvider(config(true), nullSink, dir, {});
      try {
        expect((await through.plan({ op: 'down' })).map(describeChange)).toEqual([
          'stop process endpoint-target (on target)',
        ]);
      } finally {
        await through.close();
      }
      const direct = new SshProvider(config(false), nullSink, dir, {});
      try {
        // an unread host is listed as it would be tried, with why it could not be read
        const [line] = (await direct.plan({ op: 'down' })).map(describeChange);
        expect(line).toMatch(/^stop process endpoint-target \(on target; state unknown \(.*unreachable.*\)/);
      } finally {
        await direct.close();
      }
    });

    it('god exec goes through the jump host too', async () => {
      const file = path.join(dir, 'god.config.yaml');
      fs.writeFileSync(file, stringify(configObject(true)));
      const r = await godIn(['exec', 'endpoint', '--json', '--', 'echo "$SSH_CONNECTION"'], { cwd: dir });
      expect(r.code).toBe(0);
      const out = r.lines.find((l) => l.type === 'output') as { host: string; line: string };
      expect(out.host).toBe('target');
      expect(out.line.split(' ')[0]).toBe(net.jumpInside);
    });

    it('a deploy through the jump host: upload, activate, health checks (heartbeats; endpoints protocol-checked through the jump)', async () => {
      // with the feeder, roles.endpoint.processes: 2: two endpoints on the host whose address only the jump host
      // reaches, each on its own port; their protocol check (connect → set_movies) must go through the jump
      // connection as SSH does, and only then are they admitted (one deploy for both: a second costs ~10 s)
      const baseDir = path.join(net.target.root, 'fg-deploy');
      await seedRuntime(baseDir);
      const bundleDir = path.join(dir, 'v1');
      await buildFixture(bundleDir, { version: 'v1', roles: ['feeder'] });
      await bundleEndpoint(bundleDir, 'v1');
      const obj = configObject(true);
      const two = new SshProvider(
        parseConfigText(
          stringify({
            ...obj,
            redis: { url: net.redis!.inside, prefix: PREFIX },
            roles: { endpoint: { processes: 2, env: { FG_ENDPOINT_DRAIN_GRACE: '200ms' } } },
            ssh: { ...obj.ssh, hosts: [{ ...obj.ssh.hosts[0]!, base_dir: baseDir }] },
          }),
          'god.config.yaml',
        ),
        nullSink,
        dir,
        {},
      );
      const redis = new Redis(net.redis!.outside);
      const keys = redisContract(PREFIX);
      try {
        const [host] = await two.deployHosts();
        expect(host!.processes.map((p) => [p.id, p.endpoint?.port, p.env.FG_ENDPOINT_PORT])).toEqual([
          ['endpoint-target', 7070, '7070'],
          ['endpoint-target-p2', 7071, '7071'],
        ]);
        expect((await two.expected()).map((p) => p.id)).toEqual(['endpoint-target', 'endpoint-target-p2']);
        const env = {
          FG_REDIS_URL: net.redis!.inside,
          FG_PREFIX: PREFIX,
          FG_HOST: 'target',
          FG_STOP_TIMEOUT: '3s',
        };
        const res = await deploy({
          hosts: [
            {
              ...host!,
              processes: [{ role: 'feeder', id: 'feeder-target', env }, ...host!.processes],
            },
          ],
          ssh: sshOptionsFrom(config(true), dir, {}),
          redis,
          keys,
          bundleDir,
          version: 'v1',
          healthTimeoutMs: 20_000,
          killMs: 3000,
        });
        expect(res.hosts.map((h) => [h.host, h.status, h.error])).toEqual([
          ['target', 'deployed', undefined],
        ]);
        expect(fs.readlinkSync(path.join(baseDir, 'current'))).toBe('releases/v1');
        const hb = JSON.parse((await redis.get(`${PREFIX}proc:feeder:feeder-target`))!);
        expect(hb).toMatchObject({ version: 'v1', host: 'target' });
        // both endpoints admitted after their checks, each in the registry at its own port
        expect(await redis.hgetall(keys.endpointAdmitted)).toEqual({
          'endpoint-target': 'v1',
          'endpoint-target-p2': 'v1',
        });
        for (const [id, port] of [
          ['endpoint-target', 7070],
          ['endpoint-target-p2', 7071],
        ] as const) {
          expect(JSON.parse((await redis.get(keys.endpoint(id)))!)).toMatchObject({ port });
          expect(JSON.parse((await redis.get(keys.heartbeat('endpoint', id)))!)).toMatchObject({
            version: 'v1',
          });
        }
        // from God's namespace the address is not reachable directly: only the jump made the checks pass
        expect(await checkEndpoint({ host: net.target.address, port: 7071 }, 1000)).toMatchObject({
          ok: false,
        });
        await two.down({ role: 'endpoint' });
      } finally {
        redis.disconnect();
        await two.close();
      }
    }, 60_000);

    it('an unpinned jump host key is refused, and a target the jump host cannot reach is named', async () => {
      const opts = sshOptionsFrom(config(true), dir, {});
      const onlyTarget = path.join(dir, 'known_hosts_target_only');
      fs.writeFileSync(onlyTarget, `${net.target.address} ${net.target.hostPublicKey}\n`);
      await expect(
        SshConnection.connect(targetOf(), { ...opts, knownHostsPath: onlyTarget }),
      ).rejects.toMatchObject({
        code: 'GOD_SSH_HOSTKEY_UNKNOWN',
        message: expect.stringContaining(net.jump.address),
      });
      // nothing listens on that port of the target: the jump host's forward is refused
      const closed = { name: 'closed', address: net.target.address, port: 2222 };
      const err = await SshConnection.connect(closed, opts).catch((e) => e);
      expect(err).toMatchObject({ code: 'GOD_SSH_UNREACHABLE' });
      expect(err.message).toContain(`through jump host ${net.jump.address}`);
    }, 20_000);
  },
);
