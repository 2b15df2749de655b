// Hosts of their own: N network namespaces on one bridge in a random private /24 (10.x.y.0/24, checked free
// of this machine's addresses and routes), each with its own address and, when started, its own sshd on port
// 22 with its own host key. The root namespace is the gateway (10.x.y.1): a Redis for the hosts binds it. Every
// namespace, veth, the bridge and each process inside a namespace is removed by stop(), and by the harness
// cleanup when a test fails or forgets. Needs root and iproute2. Only these namespaces are ever targeted.
import { type ChildProcess, execFileSync, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {
  isRunning,
  killTracked,
  makeTempDir,
  recentOutput,
  registerCleanup,
  removeTempDir,
  sleep,
  spawnTracked,
} from './procs.ts';
import { enterableByOthers, SSHD_BIN, sshAvailable, sshBanner } from './sshd.ts';

export interface NetnsHost {
  /** the namespace's name */
  ns: string;
  /** its address on the bridge (10.x.y.2, .3, …); sshd listens here on port 22 */
  address: string;
  /** a directory standing in for this host's disk (every namespace shares this machine's filesystem) */
  root: string;
  /** Start sshd with this OpenSSH private host key (default: a key of the host's own); restarts a running one. */
  startSshd(privateHostKey?: string): Promise<void>;
  stopSshd(): Promise<void>;
  /** "ssh-ed25519 AAAA…" of the key sshd runs with (undefined before the first start) */
  hostPublicKey?: string;
}

export interface NetnsFleet {
  hosts: NetnsHost[];
  /** the root namespace's address on the hosts' bridge */
  gateway: string;
  /** 10.x.y.0/24 */
  subnet: string;
  /** client key every host's root accepts */
  privateKeyPath: string;
  privateKey: string;
  dir: string;
  stop(): Promise<void>;
}

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
const ipQuiet = (...args: string[]) => spawnSync('ip', args, { stdio: 'ignore' }).status === 0;

/** True when we are root with iproute2 and sshd (network namespaces need CAP_SYS_ADMIN). */
export function netnsAvailable(): boolean {
  if (process.getuid?.() !== 0 || !sshAvailable()) return false;
  return spawnSync('ip', ['netns', 'list'], { stdio: 'ignore' }).status === 0;
}

/** A /24 in 10.64-254.x.0 used by no address and no route of this machine (nor by a namespace of ours). */
function freeSubnet(): [number, number] {
  const used = `${ip('-4', 'addr')}\n${ip('-4', 'route')}`;
  for (let k = 0; k < 200; k++) {
    const a = 64 + crypto.randomInt(190);
    const b = crypto.randomInt(256);
    if (!used.includes(`10.${a}.${b}.`)) return [a, b];
  }
  throw new Error('netns: no free 10.x.y.0/24 found');
}

const pidGone = (pid: number) => {
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
};

/** Namespaces, veths and bridges left by a test run that died (their owner pid, in the name or alias, is gone). */
function reapStale(): void {
  for (const line of spawnSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).stdout.split('\n')) {
    const m = /^\d+: (fg[bv][0-9a-f]+\d*)[@:].*alias fgt(\d+)/.exec(line);
    if (m && pidGone(Number(m[2]))) ipQuiet('link', 'del', m[1]!);
  }
  for (const line of spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.split('\n')) {
    const m = /^(fgt(\d+)x[0-9a-f]+n\d+)/.exec(line);
    if (m && pidGone(Number(m[2]))) killNamespace(m[1]!);
  }
}

function killNamespace(ns: string): void {
  const pids = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter(Boolean)
    .map(Number);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
  ipQuiet('netns', 'del', ns);
}

function keygen(file: string, comment: string): string {
  fs.rmSync(file, { force: true });
  fs.rmSync(`${file}.pub`, { force: true });
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return fs.readFileSync(`${file}.pub`, 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
}

export async function startNetnsHosts(n: number): Promise<NetnsFleet> {
  if (!netnsAvailable()) throw new Error('netns hosts need root, iproute2 (ip netns) and openssh-server');
  if (!Number.isInteger(n) || n < 1 || n > 50) throw new Error(`startNetnsHosts: n must be 1..50, got ${n}`);
  reapStale();
  fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const dir = makeTempDir('netns');
  const tag = `${process.pid}x${crypto.randomBytes(2).toString('hex')}`;
  const bridge = `fgb${crypto.randomBytes(3).toString('hex')}`;
  const [a, b] = freeSubnet();
  const gateway = `10.${a}.${b}.1`;
  const nsNames: string[] = [];
  const veths: string[] = [];
  const children = new Map<number, ChildProcess>();
  const hosts: NetnsHost[] = [];
  let unregister = () => {};

  const stop = async () => {
    unregister();
    await Promise.all([...children.values()].map((c) => killTracked(c, { signal: 'SIGKILL' })));
    for (const ns of nsNames) killNamespace(ns);
    // a namespace can outlive its name for a while (the kernel frees it lazily): drop its veth now
    for (const veth of veths) ipQuiet('link', 'del', veth);
    ipQuiet('link', 'del', bridge);
    removeTempDir(dir);
  };
  unregister = registerCleanup('netns hosts', stop);

  const privateKeyPath = path.join(dir, 'client_ed25519');
  const authorizedKeys = path.join(dir, 'authorized_keys');
  try {
    fs.writeFileSync(authorizedKeys, `${keygen(privateKeyPath, 'filmgrain-netns-client')}\n`, {
      mode: 0o600,
    });
    ip('link', 'add', 'name', bridge, 'type', 'bridge');
    ip('addr', 'add', `${gateway}/24`, 'dev', bridge);
    ip('link', 'set', bridge, 'alias', `fgt${process.pid}`, 'up');
    for (let k = 0; k < n; k++) {
      const ns = `fgt${tag}n${k}`;
      const veth = `${bridge.replace('fgb', 'fgv')}${k}`;
      const address = `10.${a}.${b}.${k + 2}`;
      ip('netns', 'add', ns);
      nsNames.push(ns);
      ip('link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
      veths.push(veth);
      ip('link', 'set', veth, 'master', bridge, 'alias', `fgt${process.pid}`, 'up');
      ip('-n', ns, 'addr', 'add', `${address}/24`, 'dev', 'eth0');
      ip('-n', ns, 'link', 'set', 'eth0', 'up');
      ip('-n', ns, 'link', 'set', 'lo', 'up');
      ip('-n', ns, 'route', 'add', 'default', 'via', gateway);
      const hostDir = path.join(dir, `host${k}`);
      const root = path.join(hostDir, 'root');
      fs.mkdirSync(root, { recursive: true });
      enterableByOthers(root); // deploys run roles as the unprivileged fleet user
      const keyPath = path.join(hostDir, 'ssh_host_ed25519_key');
      const cfgPath = path.join(hostDir, 'sshd_config');
      fs.writeFileSync(
        cfgPath,
        [
          `ListenAddress ${address}:22`,
          `HostKey ${keyPath}`,
          `PidFile ${path.join(hostDir, 'sshd.pid')}`,
          `AuthorizedKeysFile ${authorizedKeys}`,
          'PubkeyAuthentication yes',
          'PasswordAuthentication no',
          'KbdInteractiveAuthentication no',
          'PermitRootLogin prohibit-password',
          'StrictModes no',
          'UsePAM no',
          'UseDNS no',
          'PrintMotd no',
          'MaxStartups 100:30:200',
          'MaxSessions 100',
          'Subsystem sftp internal-sftp',
          '',
        ].join('\n'),
      );
      const host: NetnsHost = {
        ns,
        address,
        root,
        async stopSshd() {
          const c = children.get(k);
          children.delete(k);
          if (c) await killTracked(c);
        },
        async startSshd(privateHostKey?: string) {
          await host.stopSshd();
          if (privateHostKey) {
            fs.writeFileSync(
              keyPath,
              privateHostKey.endsWith('\n') ? privateHostKey : `${privateHostKey}\n`,
              {
                mode: 0o600,
              },
            );
            host.hostPublicKey = execFileSync('ssh-keygen', ['-y', '-f', keyPath]).toString().trim();
          } else {
            host.hostPublicKey = keygen(keyPath, `${ns}-hostkey`);
          }
          const c = spawnTracked('ip', ['netns', 'exec', ns, SSHD_BIN, '-D', '-e', '-f', cfgPath], {
            name: `sshd:${ns}`,
            cwd: hostDir,
          });
          children.set(k, c);
          const deadline = Date.now() + 15_000;
          while (!(await sshBanner(address, 22))) {
            if (!isRunning(c) || Date.now() > deadline)
              throw new Error(`sshd in ${ns} (${address}) did not start:\n${recentOutput(c, 20).join('\n')}`);
            await sleep(30);
          }
        },
      };
      hosts.push(host);
    }
  } catch (err) {
    await stop().catch(() => {});
    throw err;
  }
  return {
    hosts,
    gateway,
    subnet: `10.${a}.${b}.0/24`,
    privateKeyPath,
    privateKey: fs.readFileSync(privateKeyPath, 'utf8'),
    dir,
    stop,
  };
}
