import { type ChildProcess, execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './ports.ts';
import {
  isRunning,
  reapProcessesUsing,
  killTracked,
  makeTempDir,
  recentOutput,
  registerCleanup,
  removeTempDir,
  sleep,
  spawnTracked,
} from './procs.ts';

export const SSHD_BIN = '/usr/sbin/sshd';

export interface SshHost {
  /** host1, host2, ... */
  name: string;
  /** 127.0.0.2, 127.0.0.3, ... */
  address: string;
  port: number;
  /** the current user (root here) */
  user: string;
  hostKeyPath: string;
  /** "ssh-ed25519 AAAA..." (no comment) */
  hostPublicKey: string;
  /**
   * Per-host directory standing in for that host's filesystem: deploy into it (every host is this
   * same machine). Sessions also get it as $FG_HOST_ROOT (and $FG_HOST_NAME).
   */
  root: string;
}

export interface SshFleet {
  hosts: SshHost[];
  /** client private key (ed25519, OpenSSH format, no passphrase) accepted by every host */
  privateKeyPath: string;
  privateKey: string;
  /** known_hosts with a "[127.0.0.x]:port ssh-ed25519 AAAA..." line per host */
  knownHostsPath: string;
  dir: string;
  /** Stop every sshd (and every session they started), remove `dir`. */
  stop(): Promise<void>;
  /** Stop one host's sshd and kill its sessions (simulates the host going down). */
  stopHost(i: number): Promise<void>;
  /** Start one host again: same address, port and host key. No-op when running. */
  startHost(i: number): Promise<void>;
}

export interface StartSshHostsOptions {
  /** Extra sshd_config lines appended to every host's config. */
  extraConfig?: string[];
}

/** True when sshd and ssh-keygen are installed (tests can `describe.skipIf(!sshAvailable())`). */
export function sshAvailable(): boolean {
  if (!fs.existsSync(SSHD_BIN)) return false;
  const r = spawnSync('ssh-keygen', ['-?'], { encoding: 'utf8' });
  return !(r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT');
}

function sshdVersion(): [number, number] {
  const r = spawnSync(SSHD_BIN, ['-V'], { encoding: 'utf8' });
  const m = /OpenSSH_(\d+)\.(\d+)/.exec(`${r.stdout}${r.stderr}`);
  return m ? [Number(m[1]), Number(m[2])] : [0, 0];
}

function keygen(file: string, comment: string): string {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return fs.readFileSync(`${file}.pub`, 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
}

/** Resolve true once host:port sends an SSH banner. */
export async function sshBanner(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const sock = net.connect({ host, port });
    let data = '';
    const done = (ok: boolean) => {
      sock.removeAllListeners();
      sock.on('error', () => {});
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.on('data', (d: Buffer) => {
      data += d.toString('latin1');
      if (data.includes('SSH-2.0')) done(true);
    });
    sock.once('error', () => done(false));
    sock.once('close', () => done(false));
  });
}

function currentUser(): string {
  try {
    return os.userInfo().username;
  } catch {
    return process.env.USER ?? 'root';
  }
}

/**
 * Deploys as root run the roles as an unprivileged fleet user, which must enter every folder down to base_dir
 * (a host's /opt/filmgrain is): add o+x (enter, not list) where the harness's 0700 temp folders lack it.
 */
export function enterableByOthers(dir: string): void {
  for (let d = path.resolve(dir); d !== path.dirname(d); d = path.dirname(d)) {
    const st = fs.statSync(d);
    if (!(st.mode & 0o001) && st.uid === process.getuid?.()) fs.chmodSync(d, (st.mode & 0o7777) | 0o001);
  }
}

function sftpSubsystem(): string {
  return 'internal-sftp';
}

/**
 * Start `n` real sshd daemons on 127.0.0.2, 127.0.0.3, ... (free port each), each with its own
 * ed25519 host key and config, all accepting one generated client key for the current user.
 */
export async function startSshHosts(n: number, opts: StartSshHostsOptions = {}): Promise<SshFleet> {
  if (!sshAvailable()) {
    throw new Error(
      `sshd tests need ${SSHD_BIN} and ssh-keygen. Install them: apt-get install -y openssh-server`,
    );
  }
  if (!Number.isInteger(n) || n < 1 || n > 200) throw new Error(`startSshHosts: n must be 1..200, got ${n}`);
  fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });

  const dir = makeTempDir('sshd');
  const user = currentUser();
  const children: Array<ChildProcess | undefined> = [];
  const configs: string[] = [];
  const hosts: SshHost[] = [];
  let unregister = () => {};

  const privateKeyPath = path.join(dir, 'client_ed25519');
  const knownHostsPath = path.join(dir, 'known_hosts');
  const authorizedKeysPath = path.join(dir, 'authorized_keys');
  const [maj, min] = sshdVersion();
  const hasPenalties = maj > 9 || (maj === 9 && min >= 8);

  const writeConfig = (i: number) => {
    const h = hosts[i];
    const hostDir = path.dirname(h.hostKeyPath);
    const cfg = [
      `ListenAddress ${h.address}:${h.port}`,
      `HostKey ${h.hostKeyPath}`,
      `PidFile ${path.join(hostDir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${authorizedKeysPath}`,
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PermitRootLogin prohibit-password',
      'StrictModes no',
      'UsePAM no',
      'UseDNS no',
      'PrintMotd no',
      'PrintLastLog no',
      'LogLevel INFO',
      'MaxStartups 100:30:200',
      'MaxSessions 100',
      'MaxAuthTries 20',
      `Subsystem sftp ${sftpSubsystem()}`,
      `SetEnv FG_HOST_ROOT=${h.root} FG_HOST_NAME=${h.name}`,
      ...(hasPenalties ? ['PerSourcePenalties no'] : []),
      ...(opts.extraConfig ?? []),
      '',
    ].join('\n');
    const cfgPath = path.join(hostDir, 'sshd_config');
    fs.writeFileSync(cfgPath, cfg);
    configs[i] = cfgPath;
  };

  const launch = async (i: number): Promise<void> => {
    const h = hosts[i];
    const hostDir = path.dirname(h.hostKeyPath);
    const c = spawnTracked(SSHD_BIN, ['-D', '-e', '-f', configs[i]], {
      name: `sshd:${h.name}`,
      cwd: hostDir,
      env: { ...process.env, FG_HARNESS_OWNER: hostDir },
    });
    children[i] = c;
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (!isRunning(c)) {
        await sleep(50);
        throw new Error(
          `sshd for ${h.name} (${h.address}:${h.port}) exited during start-up:\n${recentOutput(c, 20).join('\n')}`,
        );
      }
      if (await sshBanner(h.address, h.port)) return;
      if (Date.now() > deadline) {
        throw new Error(
          `sshd for ${h.name} sent no SSH banner within 15 s:\n${recentOutput(c, 20).join('\n')}`,
        );
      }
      await sleep(30);
    }
  };

  const stopHost = async (i: number) => {
    const h = hosts[i];
    if (!h) throw new Error(`stopHost: no host #${i} (fleet has ${hosts.length})`);
    const c = children[i];
    children[i] = undefined;
    if (c) await killTracked(c);
    // Sessions run in their own sessions (setsid), outside sshd's process group.
    await reapProcessesUsing(path.dirname(h.hostKeyPath));
  };

  const stopAll = async () => {
    unregister();
    await Promise.all(hosts.map((_, i) => stopHost(i)));
    await reapProcessesUsing(dir);
    removeTempDir(dir);
  };

  try {
    const clientPub = keygen(privateKeyPath, 'filmgrain-test-client');
    fs.writeFileSync(authorizedKeysPath, `${clientPub}\n`, { mode: 0o600 });
    for (let i = 0; i < n; i++) {
      const name = `host${i + 1}`;
      const address = `127.0.0.${i + 2}`;
      const hostDir = path.join(dir, name);
      const root = path.join(hostDir, 'root');
      fs.mkdirSync(root, { recursive: true });
      enterableByOthers(root);
      const hostKeyPath = path.join(hostDir, 'ssh_host_ed25519_key');
      const hostPublicKey = keygen(hostKeyPath, `${name}-hostkey`);
      hosts.push({ name, address, port: 0, user, hostKeyPath, hostPublicKey, root });
    }
    await Promise.all(
      hosts.map(async (h, i) => {
        for (let attempt = 0; ; attempt++) {
          h.port = await freePort(h.address);
          writeConfig(i);
          try {
            await launch(i);
            return;
          } catch (err) {
            const c = children[i];
            children[i] = undefined;
            if (c) await killTracked(c, { signal: 'SIGKILL' });
            const msg = err instanceof Error ? err.message : String(err);
            if (attempt >= 4 || !/Address already in use|Cannot bind any address/i.test(msg)) throw err;
          }
        }
      }),
    );
    fs.writeFileSync(
      knownHostsPath,
      hosts.map((h) => `[${h.address}]:${h.port} ${h.hostPublicKey}\n`).join(''),
    );
  } catch (err) {
    await stopAll().catch(() => {});
    throw err;
  }

  const fleet: SshFleet = {
    hosts,
    privateKeyPath,
    privateKey: fs.readFileSync(privateKeyPath, 'utf8'),
    knownHostsPath,
    dir,
    stop: stopAll,
    stopHost,
    async startHost(i: number) {
      if (!hosts[i]) throw new Error(`startHost: no host #${i} (fleet has ${hosts.length})`);
      const c = children[i];
      if (c && isRunning(c)) return;
      await launch(i);
    },
  };
  unregister = registerCleanup('sshd fleet', stopAll);
  return fleet;
}

/** The raw public-key blob of a host, to compare with what ssh2's hostVerifier receives. */
export function hostKeyBlob(host: SshHost): Buffer {
  return Buffer.from(host.hostPublicKey.split(/\s+/)[1] ?? '', 'base64');
}

/**
 * ssh2 ConnectConfig for one host: the fleet's client key and a hostVerifier that only accepts
 * that host's key (pass `expectKey` to pin something else, e.g. to test a mismatch).
 */
export function sshConnectConfig(
  fleet: SshFleet,
  host: SshHost,
  expectKey: Buffer = hostKeyBlob(host),
): {
  host: string;
  port: number;
  username: string;
  privateKey: string;
  readyTimeout: number;
  hostVerifier: (key: Buffer) => boolean;
} {
  return {
    host: host.address,
    port: host.port,
    username: host.user,
    privateKey: fleet.privateKey,
    readyTimeout: 10_000,
    hostVerifier: (key: Buffer) => Buffer.compare(key, expectKey) === 0,
  };
}
