// launch.yaml and rolling-deploy.yaml against the ssh provider: two loopback sshd hosts running the real
// role bundles (built privately), one Redis. launch ships the release, converges, checks a protocol client
// gets set_movies; a second launch changes nothing; a dry run leaves the hosts' folders alone; the rolling
// deploy moves every process to r2 one host at a time.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PlayResultSchema, PlayStepEventDataSchema } from '../../god/core/playbook/runner.ts';
import { redisContract } from '../../protocol/redis-contract.ts';
import {
  enterableByOthers,
  freePort,
  makeTempDir,
  skipWithout,
  sshAvailable,
  useRedis,
  useSshHosts,
} from '../harness/index.ts';
import { godIn, resultOf } from '../god/cli-helpers.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const PLAYBOOKS = path.join(ROOT, 'playbooks');
const TEST_CATALOG = path.join(ROOT, 'data', 'test-catalog.json');
const PREFIX = 'pbs:';
const keys = redisContract(PREFIX);

describe.skipIf(skipWithout({ sshd: sshAvailable() }, 'apt-get install -y openssh-server openssh-client'))(
  'playbooks against the ssh provider',
  () => {
    const getRedis = useRedis();
    const getHosts = useSshHosts(2);
    let dir: string;
    let bundles: string;
    let redis: Redis;
    const play = (file: string, ...args: string[]) =>
      godIn(['play', path.join(PLAYBOOKS, file), '--var', `bundles=${bundles}`, ...args], { cwd: dir });

    beforeAll(async () => {
      dir = makeTempDir('play-ssh');
      // the keepers run as the fleet user and write the file:// archive under it (a host's /srv would be open)
      enterableByOthers(dir);
      // a private build: a clean clone has no dist/, and another `npm run build` must not change the release under test
      bundles = path.join(dir, 'bundles');
      execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'build.mjs'), '--outdir', bundles], {
        stdio: 'pipe',
      });
      redis = new Redis(getRedis().url);
      const fleet = getHosts();
      const [h1, h2] = fleet.hosts as [(typeof fleet.hosts)[0], (typeof fleet.hosts)[0]];
      const port = await freePort(h1.address);
      const quick = { FG_STOP_TIMEOUT: '3s' };
      fs.writeFileSync(
        path.join(dir, 'god.config.yaml'),
        stringify({
          provider: 'ssh',
          redis: { url: getRedis().url, prefix: PREFIX },
          roles: {
            feeder: { count: 1, options: { catalog: TEST_CATALOG, rate: 5 }, env: quick },
            endpoint: {
              count: 1,
              options: { host: h1.address, public_host: h1.address, port },
              env: { ...quick, FG_ENDPOINT_DRAIN_GRACE: '200ms' },
            },
            keeper: { count: 2, options: { archive: `file://${path.join(dir, 'archive')}` }, env: quick },
          },
          ssh: {
            key: fleet.privateKeyPath,
            known_hosts: fleet.knownHostsPath,
            hosts: [
              {
                name: h1.name,
                address: h1.address,
                port: h1.port,
                user: h1.user,
                roles: ['endpoint', 'keeper'],
                base_dir: path.join(h1.root, 'fg'),
              },
              {
                name: h2.name,
                address: h2.address,
                port: h2.port,
                user: h2.user,
                roles: ['feeder', 'keeper'],
                base_dir: path.join(h2.root, 'fg'),
              },
            ],
          },
        }),
      );
    }, 60_000);
    afterAll(async () => {
      await godIn(['down', '--yes'], { cwd: dir });
      redis?.disconnect();
    });

    const launchVars = ['--var', 'version=r1', '--var', 'endpoints=1', '--var', 'keepers=2'];
    const version = async (role: string, id: string) => {
      const v = await redis.get(keys.heartbeat(role, id));
      return v ? (JSON.parse(v) as { version: string; started_at: string }) : undefined;
    };
    /** each host's releases/ and `current`: what a dry run must leave alone */
    const hostDirs = () =>
      getHosts().hosts.map((h) => {
        const base = path.join(h.root, 'fg');
        return {
          releases: fs.existsSync(path.join(base, 'releases'))
            ? fs.readdirSync(path.join(base, 'releases')).sort()
            : [],
          current: fs.existsSync(path.join(base, 'current'))
            ? fs.readlinkSync(path.join(base, 'current'))
            : null,
        };
      });

    it('launch.yaml ships r1 to both hosts, converges, and a protocol client gets set_movies', async () => {
      const r = await play('launch.yaml', ...launchVars, '--json');
      const res = resultOf(r, 'play', PlayResultSchema);
      expect(res.steps.map((s) => [s.kind, s.status])).toEqual([
        ['deploy', 'ok'],
        ['provision', 'ok'],
        ['provision', 'ok'],
        ['provision', 'ok'],
        ['wait', 'ok'],
        ['publish_endpoints', 'ok'],
        ['assert', 'ok'],
      ]);
      expect(res.steps[0]!.changed).toBe(true);
      expect(res.steps[0]!.changes.map((c) => c.split(':')[0])).toEqual(['host1', 'host2']);
      // deploy events per host from the deploy service
      const uploads = r.lines.filter((l) => l.type === 'host' && l.step === 'upload' && l.phase === 'end');
      expect(uploads.map((l) => l.host).sort()).toEqual(['host1', 'host2']);
      expect(hostDirs().map((d) => d.current)).toEqual(['releases/r1', 'releases/r1']);
      for (const [role, id] of [
        ['endpoint', 'endpoint-host1'],
        ['keeper', 'keeper-host1'],
        ['feeder', 'feeder-host2'],
        ['keeper', 'keeper-host2'],
      ] as const) {
        expect((await version(role, id))?.version, id).toBe('r1');
      }
      expect(res.steps[6]!.detail).toMatch(/2 client\(s\) got set_movies from 127\.0\.0\.\d+:\d+/);
    }, 180_000);

    it('launch.yaml again changes nothing on the hosts, and its events say so', async () => {
      const before = await version('endpoint', 'endpoint-host1');
      const r = await play('launch.yaml', ...launchVars, '--json');
      const res = resultOf(r, 'play', PlayResultSchema);
      expect(res.changed).toBe(0);
      const ends = r.lines
        .filter((l) => l.type === 'step' && l.phase === 'end' && (l.data as { index?: number })?.index)
        .map((l) => PlayStepEventDataSchema.parse(l.data));
      expect(ends).toHaveLength(7);
      for (const e of ends) expect(e, e.name).toMatchObject({ status: 'ok', changed: false });
      expect((await version('endpoint', 'endpoint-host1'))?.started_at).toBe(before?.started_at);
    }, 180_000);

    it('rolling-deploy.yaml --dry-run plans r2 per host and touches nothing', async () => {
      const dirs = hostDirs();
      const before = await version('keeper', 'keeper-host2');
      const r = await play('rolling-deploy.yaml', '--var', 'version=r2', '--dry-run', '--json');
      const res = resultOf(r, 'play', PlayResultSchema);
      expect(res.steps[1]!.changes).toEqual([
        expect.stringMatching(/^host1: r1 → r2; .*restart endpoint-host1, keeper-host1/),
        expect.stringMatching(/^host2: r1 → r2; .*restart feeder-host2, keeper-host2/),
      ]);
      expect(hostDirs()).toEqual(dirs);
      expect(await redis.get(keys.deployLock)).toBeNull();
      expect((await version('keeper', 'keeper-host2'))?.started_at).toBe(before?.started_at);
    }, 120_000);

    it('rolling-deploy.yaml moves every process to r2, one host per batch, health-checked', async () => {
      const r = await play('rolling-deploy.yaml', '--var', 'version=r2', '--json');
      const res = resultOf(r, 'play', PlayResultSchema);
      expect(res.steps.map((s) => s.status)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
      const batches = r.lines.filter(
        (l) => l.type === 'step' && /^batch \d\/2$/.test(String(l.step)) && l.phase === 'end',
      );
      expect(batches.map((l) => [l.step, l.ok])).toEqual([
        ['batch 1/2', true],
        ['batch 2/2', true],
      ]);
      expect(hostDirs().map((d) => d.current)).toEqual(['releases/r2', 'releases/r2']);
      expect((await version('feeder', 'feeder-host2'))?.version).toBe('r2');
      expect((await version('endpoint', 'endpoint-host1'))?.version).toBe('r2');
    }, 180_000);

    it("provision to fewer keepers stops the last host's and waits only for the kept one", async () => {
      const file = path.join(dir, 'fewer.yaml');
      fs.writeFileSync(
        file,
        'name: fewer\nsteps:\n  - provision: { role: keeper, count: 1 }\n    timeout: 60s\n',
      );
      const r = await godIn(['play', file, '--json'], { cwd: dir });
      const res = resultOf(r, 'play', PlayResultSchema);
      expect(res.steps[0]!.changes).toEqual(['stop keeper-host2 on host2']);
      expect(await version('keeper', 'keeper-host1')).toBeDefined();
      const again = resultOf(await godIn(['play', file, '--json'], { cwd: dir }), 'play', PlayResultSchema);
      expect(again.steps[0]!.changed).toBe(false);
    }, 120_000);
  },
);
