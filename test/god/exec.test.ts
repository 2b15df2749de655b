// `god exec SELECTOR -- COMMAND` against two real loopback sshd hosts (ssh provider): each host's output
// comes back prefixed (plain) or as `output` events (--json), the selector picks hosts by role, host and
// process id, a failing host makes the exit status 1 while the others still run, --concurrency caps the
// hosts at once, and the local provider refuses clearly.
import fs from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { ExecResultSchema } from '../../god/core/exec.ts';
import { makeTempDir, skipWithout, sshAvailable, useSshHosts } from '../harness/index.ts';
import { godIn, resultOf } from './cli-helpers.ts';
import { sshInventory } from './deploy/helpers.ts';

describe.skipIf(skipWithout({ sshd: sshAvailable() }, 'apt-get install -y openssh-server openssh-client'))(
  'god exec (ssh provider, loopback sshd hosts)',
  () => {
    const getFleet = useSshHosts(2);
    let dir: string;
    let names: string[];
    const run = (...args: string[]) => godIn(args, { cwd: dir });

    beforeAll(() => {
      dir = makeTempDir('god-exec');
      const fleet = getFleet();
      names = fleet.hosts.map((h) => h.name);
      fs.writeFileSync(
        path.join(dir, 'god.config.yaml'),
        stringify({
          provider: 'ssh',
          // never reached: exec talks SSH only, but an ssh inventory names its Redis
          redis: { url: 'redis://127.0.0.1:9' },
          ssh: sshInventory(fleet),
        }),
      );
    });

    it('runs on every host: NDJSON output events per host, then one result', async () => {
      const r = await run('exec', 'all', '--json', '--', 'echo', 'on $FG_HOST_NAME;', 'echo err >&2');
      const data = resultOf(r, 'exec', ExecResultSchema, 'output');
      expect(data.ok).toBe(true);
      expect(data.hosts.map((h) => [h.host, h.code]).sort()).toEqual(names.map((n) => [n, 0]));
      const outputs = r.lines.filter((l) => l.type === 'output');
      for (const n of names) {
        expect(outputs).toContainEqual(
          expect.objectContaining({ host: n, stream: 'stdout', line: `on ${n}` }),
        );
        expect(outputs).toContainEqual(expect.objectContaining({ host: n, stream: 'stderr', line: 'err' }));
      }
    });

    it('plain output: each line prefixed with its host, escapes shown escaped', async () => {
      const r = await run('exec', 'all', '--', "printf 'a\\033[2Jb\\n'; echo on $FG_HOST_NAME");
      expect(r.code).toBe(0);
      for (const n of names) {
        expect(r.stdout).toMatch(new RegExp(`^${n} +\\| on ${n}$`, 'm'));
        expect(r.stdout).toMatch(new RegExp(`^${n} +\\| a\\\\x1b\\[2Jb$`, 'm'));
      }
      expect(r.stdout).not.toContain('\x1b');
      expect(r.stdout).toContain('2/2 host(s) ok');
    });

    it('selects by role, host and process id', async () => {
      const hostsOf = async (sel: string) =>
        resultOf(await run('exec', sel, '--json', '--', 'true'), 'exec', ExecResultSchema, 'output')
          .hosts.map((h) => h.host)
          .sort();
      expect(await hostsOf('feeder')).toEqual([names[0]]);
      expect(await hostsOf('keeper')).toEqual([...names].sort());
      expect(await hostsOf(names[1]!)).toEqual([names[1]]);
      expect(await hostsOf(`feeder-${names[0]}`)).toEqual([names[0]]);
      const bad = await run('exec', 'nosuch', '--json', '--', 'true');
      expect(bad.code).toBe(1);
      expect(bad.lines.at(-1)).toMatchObject({ type: 'error', code: 'GOD_TARGET' });
      expect(bad.lines.some((l) => l.type === 'host')).toBe(false); // refused before any host is reached
    });

    it('a failing host: exit 1, its status in the result, the other host still ran', async () => {
      const r = await run(
        'exec',
        'all',
        '--json',
        '--',
        `test "$FG_HOST_NAME" != ${names[0]} || exit 3; echo fine`,
      );
      expect(r.code).toBe(1);
      const res = r.lines.at(-1) as { ok: boolean; data: unknown };
      expect(res.ok).toBe(false);
      const data = ExecResultSchema.parse(res.data);
      const by = Object.fromEntries(data.hosts.map((h) => [h.host, h]));
      expect(by[names[0]!]).toMatchObject({ ok: false, code: 3, error: 'exit 3' });
      expect(by[names[1]!]).toMatchObject({ ok: true, code: 0 });
      expect(r.lines).toContainEqual(
        expect.objectContaining({ type: 'output', host: names[1], line: 'fine' }),
      );
    });

    it('--concurrency 1 runs one host after the other', async () => {
      const r = await run('exec', 'all', '--concurrency', '1', '--json', '--', 'true');
      const phases = r.lines.filter((l) => l.type === 'host').map((l) => `${l.phase}`);
      expect(phases).toEqual(['start', 'end', 'start', 'end']);
      const both = await godIn(['exec', 'all', '--json', '--', 'sleep 0.3'], { cwd: dir });
      expect(both.lines.filter((l) => l.type === 'host').map((l) => `${l.phase}`)).toEqual([
        'start',
        'start',
        'end',
        'end',
      ]);
    });
  },
);

describe('god exec on the local provider', () => {
  it('refuses clearly: the local fleet is this machine', async () => {
    const dir = makeTempDir('god-exec-local');
    const r = await godIn(['exec', 'all', '--json', '--', 'uptime'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.lines.at(-1)).toMatchObject({ type: 'error', code: 'GOD_EXEC_LOCAL' });
  });
});
