// `god deploy`, `god rollback` and `god restart` through the CLI with an ssh config: exit codes and the
// --json NDJSON shapes (one event per step per host, then one result line).
import fs from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../../god/cli/main.ts';
import { EventLineSchema, resultLineSchema } from '../../../god/cli/output.ts';
import { z } from 'zod';
import {
  makeTempDir,
  skipWithout,
  sshAvailable,
  useRedis,
  useSshHosts,
  waitFor,
} from '../../harness/index.ts';
import { buildFixture } from './fixtures/build.ts';
import { seedRuntime, sshInventory } from './helpers.ts';

const PREFIX = 'cli:';

describe.skipIf(skipWithout({ sshd: sshAvailable() }, 'apt-get install -y openssh-server openssh-client'))(
  'god deploy / rollback CLI (ssh provider)',
  () => {
    const getRedis = useRedis();
    const getFleet = useSshHosts(2);
    let dir: string;
    let env: NodeJS.ProcessEnv;
    let redis: Redis;

    beforeAll(async () => {
      dir = makeTempDir('god-cli');
      redis = new Redis(getRedis().url);
      const fleet = getFleet();
      fs.writeFileSync(
        path.join(dir, 'god.config.yaml'),
        stringify({
          provider: 'ssh',
          redis: { url: getRedis().url, prefix: PREFIX },
          roles: { feeder: { env: { FG_STOP_TIMEOUT: '3s' } }, keeper: { env: { FG_STOP_TIMEOUT: '3s' } } },
          ssh: sshInventory(fleet),
        }),
      );
      await Promise.all(fleet.hosts.map((h) => seedRuntime(path.join(h.root, 'fg'))));
      await buildFixture(path.join(dir, 'b1'), { version: 'r1', roles: ['feeder', 'keeper'] });
      await buildFixture(path.join(dir, 'b2'), { version: 'r2', roles: ['feeder', 'keeper'], marker: 'r2' });
      env = {
        ...process.env,
        GOD_CONFIG: path.join(dir, 'god.config.yaml'),
        GOD_HEALTH_TIMEOUT: '20s',
        NO_COLOR: '1',
      };
    });
    afterAll(() => redis?.disconnect());

    async function god(args: string[], extraEnv: NodeJS.ProcessEnv = {}) {
      let out = '';
      let err = '';
      const code = await runCli(args, {
        env: { ...env, ...extraEnv },
        cwd: dir,
        stdout: { write: (s: string) => (out += s) },
        stderr: { write: (s: string) => (err += s) },
      });
      const lines = args.includes('--json')
        ? out
            .trim()
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l))
        : [];
      return { code, out, err, lines };
    }

    const hostResult = z.object({
      host: z.string(),
      status: z.enum(['deployed', 'unchanged', 'failed', 'rolled_back', 'skipped', 'planned']),
      ok: z.boolean(),
      previous: z.string().nullable().optional(),
      current: z.string().nullable().optional(),
      uploaded: z.array(z.string()),
      restarted: z.array(z.string()),
      ms: z.number(),
    });
    const deployResult = z.object({
      version: z.string(),
      ok: z.boolean(),
      dryRun: z.boolean(),
      hosts: z.array(hostResult),
    });

    it('deploy --json: NDJSON events per step per host, then the result', async () => {
      const r = await god(['deploy', '--json', '--version', 'r1'], { GOD_BUNDLE_DIR: path.join(dir, 'b1') });
      expect(r.code, r.out + r.err).toBe(0);
      const last = r.lines.at(-1);
      const res = resultLineSchema('deploy', deployResult).parse(last);
      expect(res.data.hosts.map((h) => [h.host, h.status])).toEqual([
        ['host1', 'deployed'],
        ['host2', 'deployed'],
      ]);
      const events = r.lines.slice(0, -1).map((l) => EventLineSchema.parse(l));
      const hostEnds = events.filter((e) => e.type === 'host' && (e as { phase?: string }).phase === 'end');
      for (const step of ['plan', 'upload', 'activate', 'health']) {
        expect(
          hostEnds
            .filter((e) => (e as { step?: string }).step === step)
            .map((e) => (e as { host?: string }).host)
            .sort(),
        ).toEqual(['host1', 'host2']);
      }
      const hb = await redis.get(`${PREFIX}proc:keeper:keeper-host2`);
      expect(JSON.parse(hb!).version).toBe('r1');
    });

    it('deploy --dry-run (env GOD_DRY_RUN) prints the plan and changes nothing', async () => {
      const r = await god(['deploy', '--version', 'r2'], {
        GOD_BUNDLE_DIR: path.join(dir, 'b2'),
        GOD_DRY_RUN: '1',
      });
      expect(r.code, r.err).toBe(0);
      expect(r.err).toMatch(/host1 plan r1 → r2; upload feeder\.mjs, keeper\.mjs/);
      expect(r.out).toMatch(/dry run: nothing changed/);
      const h1 = getFleet().hosts[0]!;
      expect(fs.readlinkSync(path.join(h1.root, 'fg', 'current'))).toBe('releases/r1');
    });

    it('deploy --roles keeper restarts only keepers; rollback goes back', async () => {
      const r = await god(['deploy', '--json', '--version', 'r2', '--roles', 'keeper'], {
        GOD_BUNDLE_DIR: path.join(dir, 'b2'),
      });
      expect(r.code, r.out).toBe(0);
      const res = resultLineSchema('deploy', deployResult).parse(r.lines.at(-1)).data;
      expect(res.hosts.map((h) => h.restarted)).toEqual([['keeper-host1'], ['keeper-host2']]);
      // the feeder on host1 was not restarted and still reports r1
      expect(JSON.parse((await redis.get(`${PREFIX}proc:feeder:feeder-host1`))!).version).toBe('r1');
      const rb = await god(['rollback', '--yes', '--json']);
      expect(rb.code, rb.out).toBe(0);
      const rres = resultLineSchema('rollback', deployResult).parse(rb.lines.at(-1)).data;
      expect(rres.hosts.map((h) => h.current)).toEqual(['r1', 'r1']);
      expect(JSON.parse((await redis.get(`${PREFIX}proc:keeper:keeper-host1`))!).version).toBe('r1');
    });

    it('restart and down go through the hosts; errors are clear with a non-zero exit', async () => {
      const before = JSON.parse((await redis.get(`${PREFIX}proc:keeper:keeper-host2`))!);
      const r = await god(['restart', 'keeper', '--json']);
      expect(r.code, r.out + r.err).toBe(0);
      await waitFor(
        async () => {
          const v = await redis.get(`${PREFIX}proc:keeper:keeper-host2`);
          return !!v && JSON.parse(v).started_at !== before.started_at;
        },
        15_000,
        'keeper-host2 restarted',
      );
      const down = await god(['down', '--yes']);
      expect(down.code, down.err).toBe(0);
      await waitFor(
        async () => (await redis.keys(`${PREFIX}proc:*`)).length === 0,
        15_000,
        'every process stopped',
      );
      const bad = await god(['rollback', 'nope', '--yes', '--json']);
      expect(bad.code).toBe(1);
      const res = resultLineSchema('rollback', deployResult).parse(bad.lines.at(-1)).data;
      expect(res.hosts.every((h) => h.status === 'failed')).toBe(true);
    });
  },
);
