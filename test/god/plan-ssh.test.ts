// The ssh provider's plan reads each host's state over SSH and changes nothing: two loopback sshd hosts whose
// base_dir holds process specs (one with a live pid, as the host agent leaves them) and a current release.
import fs from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../god/core/config/load.ts';
import { nullSink } from '../../god/core/events.ts';
import { SshProvider } from '../../god/core/providers/ssh.ts';
import { describeChange } from '../../god/core/providers/types.ts';
import {
  killTracked,
  makeTempDir,
  skipWithout,
  spawnTracked,
  sshAvailable,
  useSshHosts,
} from '../harness/index.ts';

/** every file and folder under `dir`, relative */
function tree(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort();
}

describe.skipIf(skipWithout({ sshd: sshAvailable() }, 'apt-get install -y openssh-server openssh-client'))(
  'ssh provider plan over SSH',
  () => {
    const getHosts = useSshHosts(2);
    let provider: SshProvider;
    let sleeper: ReturnType<typeof spawnTracked>;
    let bases: string[];
    let before: string[][];

    beforeAll(() => {
      const fleet = getHosts();
      const dir = makeTempDir('plan-ssh');
      bases = fleet.hosts.map((h) => path.join(h.root, 'fg'));
      // host1 runs endpoint-host1 (a live pid in run/) at release r1; host2 has specs but nothing runs
      sleeper = spawnTracked('sleep', ['600'], { name: 'endpoint-host1' });
      fleet.hosts.forEach((h, i) => {
        const run = path.join(bases[i]!, 'run');
        fs.mkdirSync(run, { recursive: true, mode: 0o700 });
        for (const role of ['endpoint', 'keeper']) {
          fs.writeFileSync(
            path.join(run, `${role}-${h.name}.json`),
            JSON.stringify({ role, id: `${role}-${h.name}` }),
          );
        }
        fs.writeFileSync(
          path.join(run, 'feeder-old.json'),
          JSON.stringify({ role: 'feeder', id: 'feeder-old' }),
        );
      });
      fs.writeFileSync(path.join(bases[0]!, 'run', 'endpoint-host1.pid'), String(sleeper.pid));
      fs.mkdirSync(path.join(bases[0]!, 'releases', 'r1'), { recursive: true });
      fs.symlinkSync(path.join(bases[0]!, 'releases', 'r1'), path.join(bases[0]!, 'current'));
      before = bases.map(tree);
      const config = parseConfigText(
        stringify({
          provider: 'ssh',
          redis: { url: 'redis://127.0.0.1:1' },
          ssh: {
            key: fleet.privateKeyPath,
            known_hosts: fleet.knownHostsPath,
            hosts: fleet.hosts.map((h, i) => ({
              name: h.name,
              address: h.address,
              port: h.port,
              user: h.user,
              roles: ['endpoint', 'keeper'],
              base_dir: bases[i],
            })),
          },
        }),
        'god.config.yaml',
      );
      provider = new SshProvider(config, nullSink, dir, {});
    });
    afterAll(async () => {
      await provider?.close();
      if (sleeper) await killTracked(sleeper);
    });

    it('down stops only what runs; up starts only what does not; restart names what it starts', async () => {
      expect((await provider.plan({ op: 'down' })).map(describeChange)).toEqual([
        'stop process endpoint-host1 (on host1)',
      ]);
      expect((await provider.plan({ op: 'up', role: 'endpoint', count: 2 })).map(describeChange)).toEqual([
        'start process endpoint-host2 (on host2)',
      ]);
      expect((await provider.plan({ op: 'up', role: 'endpoint', count: 1 })).map(describeChange)).toEqual([]);
      expect(
        (await provider.plan({ op: 'restart', target: { role: 'endpoint' } })).map(describeChange),
      ).toEqual([
        'restart process endpoint-host1 (on host1)',
        'restart process endpoint-host2 (on host2; not running now: it starts)',
      ]);
    });

    it('deploy: the release per host with what it runs now, restarts, and the stray process stops', async () => {
      const lines = (await provider.plan({ op: 'deploy' })).map(describeChange);
      expect(lines.filter((l) => l.startsWith('upload'))).toEqual([
        `upload release host1 (fg-agent.mjs, fg-supervisor.mjs, manifest.json, endpoint.mjs, keeper.mjs into ${bases[0]}/releases (files it has are reused); now at r1)`,
        `upload release host2 (fg-agent.mjs, fg-supervisor.mjs, manifest.json, endpoint.mjs, keeper.mjs into ${bases[1]}/releases (files it has are reused); now at no release)`,
      ]);
      expect(lines.filter((l) => l.startsWith('stop'))).toEqual([
        'stop process feeder-old (on host1: the inventory no longer lists it)',
        'stop process feeder-old (on host2: the inventory no longer lists it)',
      ]);
    });

    it('left every host as it was', () => {
      expect(bases.map(tree)).toEqual(before);
    });
  },
);
