// A jump host and a host behind it, each its own network namespace with its own sshd and host key:
//   root ns (God) ──10.A.B.0/24── jump ns ──10.A.B+1.0/24── target ns
// The target's subnet is unreachable from the root namespace (an `unreachable` route, so a direct connect
// fails at once rather than wandering off to the default gateway); the jump ns does not forward packets, so
// only a TCP forward opened by the jump host's sshd reaches the target. Needs root and `ip`.
// (test/harness/netns.ts, written at the same time for another issue, builds namespaces too; merge later.)
import { type ChildProcess, execFileSync, spawnSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  killTracked,
  makeTempDir,
  reapProcessesUsing,
  registerCleanup,
  removeTempDir,
  spawnTracked,
  waitForLine,
} from './procs.ts';
import { enterableByOthers, SSHD_BIN, sshAvailable } from './sshd.ts';

export interface NsHost {
  name: string;
  address: string;
  port: number;
  /** "ssh-ed25519 AAAA..." */
  hostPublicKey: string;
  /** a private folder standing in for the host's filesystem (the namespaces share this machine's) */
  root: string;
}

export interface JumpHosts {
  jump: NsHost;
  target: NsHost;
  /** the jump host's address on the target's subnet: where the target sees God's connections come from */
  jumpInside: string;
  user: string;
  privateKeyPath: string;
  /** both hosts pinned */
  knownHostsPath: string;
  /** with `redis: true`: a redis-server in the jump namespace, which God and the target both reach */
  redis?: { outside: string; inside: string };
  stop(): Promise<void>;
}

/** True when namespaces can be made here: root, `ip` and sshd. */
export function jumpHostsAvailable(): boolean {
  if (process.getuid?.() !== 0 || !sshAvailable()) return false;
  return spawnSync('ip', ['netns', 'list'], { stdio: 'ignore' }).status === 0;
}

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
const quiet = (...args: string[]) => spawnSync('ip', args, { stdio: 'ignore' });

function keygen(file: string, comment: string): string {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return fs.readFileSync(`${file}.pub`, 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
}

/** Two free /24s next to each other under 10/8 (random, so parallel runs and other helpers do not collide). */
function pickSubnets(): [string, string] {
  const routes = execFileSync('ip', ['-4', 'route', 'show', 'table', 'all'], { encoding: 'utf8' });
  for (let i = 0; i < 50; i++) {
    const a = randomInt(16, 250);
    const b = randomInt(0, 254);
    const nets = [`10.${a}.${b}`, `10.${a}.${b + 1}`];
    if (nets.every((n) => !routes.includes(`${n}.`))) return nets as [string, string];
  }
  throw new Error('jump-hosts: no free 10.x.y.0/24 pair found');
}

export async function startJumpHosts(o: { redis?: boolean } = {}): Promise<JumpHosts> {
  fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const tag = randomInt(0, 36 ** 5)
    .toString(36)
    .padStart(5, '0');
  const [outer, inner] = pickSubnets();
  const nsJump = `fgjump${tag}`;
  const nsTarget = `fgtarg${tag}`;
  const vRoot = `fjr${tag}`;
  const vJump = `fjj${tag}`;
  const vJumpIn = `fji${tag}`;
  const vTarget = `fjt${tag}`;
  const dir = makeTempDir('jump-hosts');
  const user = os.userInfo().username;
  const children: ChildProcess[] = [];
  let routeAdded = false;

  const teardown = async () => {
    for (const c of children.splice(0)) await killTracked(c).catch(() => {});
    await reapProcessesUsing(dir).catch(() => {});
    // deleting a namespace deletes the veth ends in it, and so their peers
    quiet('netns', 'del', nsJump);
    quiet('netns', 'del', nsTarget);
    quiet('link', 'del', vRoot);
    if (routeAdded) quiet('route', 'del', 'unreachable', `${inner}.0/24`);
    removeTempDir(dir);
  };
  const unregister = registerCleanup(`jump hosts ${tag}`, teardown);
  const stop = async () => {
    unregister();
    await teardown();
  };

  try {
    ip('netns', 'add', nsJump);
    ip('netns', 'add', nsTarget);
    ip('link', 'add', vRoot, 'type', 'veth', 'peer', 'name', vJump);
    ip('link', 'set', vJump, 'netns', nsJump);
    ip('addr', 'add', `${outer}.1/24`, 'dev', vRoot);
    ip('link', 'set', vRoot, 'up');
    ip('link', 'add', vJumpIn, 'type', 'veth', 'peer', 'name', vTarget);
    ip('link', 'set', vJumpIn, 'netns', nsJump);
    ip('link', 'set', vTarget, 'netns', nsTarget);
    ip('-n', nsJump, 'addr', 'add', `${outer}.2/24`, 'dev', vJump);
    ip('-n', nsJump, 'addr', 'add', `${inner}.1/24`, 'dev', vJumpIn);
    ip('-n', nsTarget, 'addr', 'add', `${inner}.2/24`, 'dev', vTarget);
    for (const [ns, devs] of [
      [nsJump, ['lo', vJump, vJumpIn]],
      [nsTarget, ['lo', vTarget]],
    ] as const) {
      for (const d of devs) ip('-n', ns, 'link', 'set', d, 'up');
    }
    ip('route', 'add', 'unreachable', `${inner}.0/24`);
    routeAdded = true;

    const privateKeyPath = path.join(dir, 'client_ed25519');
    const authorizedKeys = path.join(dir, 'authorized_keys');
    fs.writeFileSync(authorizedKeys, `${keygen(privateKeyPath, 'jump-test-client')}\n`, { mode: 0o600 });

    const host = async (name: string, ns: string, address: string): Promise<NsHost> => {
      const hostDir = path.join(dir, name);
      const root = path.join(hostDir, 'root');
      fs.mkdirSync(root, { recursive: true });
      enterableByOthers(root); // deploys run roles as the unprivileged fleet user
      const key = path.join(hostDir, 'ssh_host_ed25519_key');
      const hostPublicKey = keygen(key, `${name}-hostkey`);
      const cfg = path.join(hostDir, 'sshd_config');
      fs.writeFileSync(
        cfg,
        [
          `ListenAddress ${address}:22`,
          `HostKey ${key}`,
          `PidFile ${path.join(hostDir, 'sshd.pid')}`,
          `AuthorizedKeysFile ${authorizedKeys}`,
          'PubkeyAuthentication yes',
          'PasswordAuthentication no',
          'KbdInteractiveAuthentication no',
          'PermitRootLogin prohibit-password',
          'AllowTcpForwarding yes',
          'StrictModes no',
          'UsePAM no',
          'UseDNS no',
          'LogLevel INFO',
          'Subsystem sftp internal-sftp',
          `SetEnv FG_HOST_ROOT=${root} FG_HOST_NAME=${name}`,
          '',
        ].join('\n'),
      );
      // `ip netns exec` execs sshd: the tracked pid is sshd's own
      const c = spawnTracked('ip', ['netns', 'exec', ns, SSHD_BIN, '-D', '-e', '-f', cfg], {
        name: `sshd:${name}`,
        cwd: hostDir,
        env: { ...process.env, FG_HARNESS_OWNER: hostDir },
      });
      children.push(c);
      await waitForLine(c, /Server listening on/, 15_000);
      return { name, address, port: 22, hostPublicKey, root };
    };
    const [jump, target] = await Promise.all([
      host('jump', nsJump, `${outer}.2`),
      host('target', nsTarget, `${inner}.2`),
    ]);
    let redis: JumpHosts['redis'];
    if (o.redis) {
      // on the jump host, listening on both sides: God connects from outside, the target's roles from inside
      const c = spawnTracked(
        'ip',
        [
          'netns',
          'exec',
          nsJump,
          'redis-server',
          '--bind',
          `${outer}.2`,
          `${inner}.1`,
          '--port',
          '6379',
        ].concat(['--protected-mode', 'no', '--save', '', '--appendonly', 'no', '--dir', dir]),
        { name: 'redis:jump', cwd: dir },
      );
      children.push(c);
      await waitForLine(c, /Ready to accept connections/, 15_000);
      redis = { outside: `redis://${outer}.2:6379`, inside: `redis://${inner}.1:6379` };
    }
    const knownHostsPath = path.join(dir, 'known_hosts');
    fs.writeFileSync(knownHostsPath, [jump, target].map((h) => `${h.address} ${h.hostPublicKey}\n`).join(''));
    return { jump, target, jumpInside: `${inner}.1`, user, privateKeyPath, knownHostsPath, redis, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
