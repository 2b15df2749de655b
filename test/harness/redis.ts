import { type ChildProcess, execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { freePort } from './ports.ts';
import {
  isRunning,
  killTracked,
  makeTempDir,
  reapProcessesUsing,
  recentOutput,
  registerCleanup,
  removeTempDir,
  sleep,
  spawnTracked,
  trackTempDir,
} from './procs.ts';

export interface RedisTlsFiles {
  /** PEM file paths */
  cert: string;
  key: string;
  ca?: string;
}

export interface StartRedisOptions {
  password?: string;
  tls?: RedisTlsFiles;
  /** Extra redis-server arguments, e.g. ['--maxmemory', '64mb']. */
  args?: string[];
  /** Address to listen on (default 127.0.0.1): a netns fleet's gateway, so its hosts reach it. */
  host?: string;
}

export interface RedisServer {
  /** redis://127.0.0.1:P, redis://:pw@127.0.0.1:P or rediss://127.0.0.1:P */
  url: string;
  port: number;
  host: string;
  /** Data dir (dump.rdb lives here). Removed by stop(). */
  dir: string;
  password?: string;
  tls: boolean;
  /** Final stop: SIGTERM (saves), then removes `dir`. A later start() begins with an empty dir. */
  stop(): Promise<void>;
  /** SIGTERM (the dataset is saved to dump.rdb), wait `downMs`, start again on the same port and dir. */
  restart(opts?: { downMs?: number }): Promise<void>;
  /** SIGKILL, like a crash: writes since the last save are lost. Port and dir are kept for start(). */
  kill(): Promise<void>;
  /** Start again (same port, same dir) after kill()/stop(); no-op when running. */
  start(): Promise<void>;
  /** Pid of the running redis-server, if any. */
  pid(): number | undefined;
  /** Last lines of redis-server's log. */
  logs(): string[];
}

function redisServerBin(): string {
  const r = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    throw new Error(
      'redis-server is not installed or not on PATH. Install it: apt-get install -y redis-server',
    );
  }
  return 'redis-server';
}

function resp(...parts: string[]): string {
  return `*${parts.length}\r\n` + parts.map((p) => `$${Buffer.byteLength(p)}\r\n${p}\r\n`).join('');
}

/** One PING over a fresh connection (AUTH first when a password is set). True on +PONG. */
export async function pingRedis(
  host: string,
  port: number,
  opts: { password?: string; tls?: boolean; timeoutMs?: number } = {},
): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const sock = opts.tls
      ? tls.connect({ host, port, rejectUnauthorized: false, servername: net.isIP(host) ? undefined : host })
      : net.connect({ host, port });
    let data = '';
    const done = (ok: boolean) => {
      sock.removeAllListeners();
      sock.on('error', () => {});
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(opts.timeoutMs ?? 1000, () => done(false));
    sock.once(opts.tls ? 'secureConnect' : 'connect', () => {
      sock.write((opts.password ? resp('AUTH', opts.password) : '') + resp('PING'));
    });
    sock.on('data', (d: Buffer) => {
      data += d.toString('utf8');
      if (data.includes('+PONG')) done(true);
      else if (/^-|\r\n-/.test(data)) done(false); // -NOAUTH, -LOADING, -WRONGPASS ...
    });
    sock.once('error', () => done(false));
    sock.once('close', () => done(false));
  });
}

/**
 * Start a private redis-server on a free port with a temp data dir. Resolves once it answers PING.
 * Registered with the harness cleanup, so a forgotten stop() is handled by the global teardown.
 */
export async function startRedis(opts: StartRedisOptions = {}): Promise<RedisServer> {
  const bin = redisServerBin();
  const host = opts.host ?? '127.0.0.1';
  const dir = makeTempDir('redis');
  let port = 0;
  let child: ChildProcess | undefined;
  let unregister = () => {};

  const buildArgs = (): string[] => {
    const args = [
      '--bind',
      host,
      '--dir',
      dir,
      '--dbfilename',
      'dump.rdb',
      '--save',
      '',
      '--appendonly',
      'no',
      '--daemonize',
      'no',
      '--protected-mode',
      'no',
      '--logfile',
      '',
      // SIGTERM writes dump.rdb so restart() keeps the data; `force` exits even if saving fails.
      '--shutdown-on-sigterm',
      'save force',
    ];
    if (opts.tls) {
      args.push(
        '--port',
        '0',
        '--tls-port',
        String(port),
        '--tls-cert-file',
        opts.tls.cert,
        '--tls-key-file',
        opts.tls.key,
        '--tls-ca-cert-file',
        opts.tls.ca ?? opts.tls.cert,
        '--tls-auth-clients',
        'no',
      );
    } else {
      args.push('--port', String(port));
    }
    if (opts.password) args.push('--requirepass', opts.password);
    args.push(...(opts.args ?? []));
    return args;
  };

  const launch = async (): Promise<void> => {
    fs.mkdirSync(dir, { recursive: true });
    trackTempDir(dir);
    const c = spawnTracked(bin, buildArgs(), {
      name: `redis:${port}`,
      cwd: dir,
      env: { ...process.env, FG_HARNESS_OWNER: dir },
    });
    child = c;
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (!isRunning(c)) {
        await sleep(50);
        throw new Error(
          `redis-server on port ${port} exited during start-up:\n${recentOutput(c, 20).join('\n')}`,
        );
      }
      if (await pingRedis(host, port, { password: opts.password, tls: !!opts.tls })) return;
      if (Date.now() > deadline) {
        await killTracked(c);
        throw new Error(
          `redis-server on port ${port} did not answer PING within 15 s:\n${recentOutput(c, 20).join('\n')}`,
        );
      }
      await sleep(30);
    }
  };

  const stopProcess = async (signal: NodeJS.Signals = 'SIGTERM') => {
    const c = child;
    child = undefined;
    if (c) await killTracked(c, { signal });
  };

  const url = () => {
    const scheme = opts.tls ? 'rediss' : 'redis';
    const auth = opts.password ? `:${encodeURIComponent(opts.password)}@` : '';
    return `${scheme}://${auth}${host}:${port}`;
  };

  try {
    for (let attempt = 0; ; attempt++) {
      port = await freePort(host);
      try {
        await launch();
        break;
      } catch (err) {
        const msg = err instanceof Error ? err.message : String(err);
        await stopProcess('SIGKILL');
        if (attempt >= 4 || !/already in use|Could not create server TCP listening socket/i.test(msg))
          throw err;
      }
    }
  } catch (err) {
    await stopProcess('SIGKILL');
    removeTempDir(dir);
    throw err;
  }

  const server: RedisServer = {
    get url() {
      return url();
    },
    get port() {
      return port;
    },
    host,
    dir,
    password: opts.password,
    tls: !!opts.tls,
    async stop() {
      unregister();
      await stopProcess();
      await reapProcessesUsing(dir);
      removeTempDir(dir);
    },
    async restart(o = {}) {
      await stopProcess();
      if (o.downMs) await sleep(o.downMs);
      await launch();
    },
    async kill() {
      await stopProcess('SIGKILL');
    },
    async start() {
      if (child && isRunning(child)) return;
      unregister();
      unregister = registerCleanup(`redis:${port}`, () => server.stop());
      await launch();
    },
    pid() {
      return child && isRunning(child) ? child.pid : undefined;
    },
    logs() {
      return child ? recentOutput(child, 50) : [];
    },
  };
  unregister = registerCleanup(`redis:${port}`, () => server.stop());
  return server;
}

/** True when the openssl CLI can be run. */
export function opensslAvailable(): boolean {
  const r = spawnSync('openssl', ['version'], { encoding: 'utf8' });
  return !r.error && r.status === 0;
}

export interface SelfSignedCert {
  /** path of the PEM certificate (also usable as its own CA) */
  cert: string;
  /** path of the PEM private key */
  key: string;
  certPem: string;
  keyPem: string;
}

/**
 * Write a self-signed certificate + key (EC P-256, 2 days) into `dir` with the openssl CLI.
 * SubjectAltName covers IP:127.0.0.1, DNS:localhost and `cn`.
 */
export function makeSelfSignedCert(dir: string, cn = '127.0.0.1'): SelfSignedCert {
  if (!opensslAvailable()) {
    throw new Error('openssl is not installed or not on PATH. Install it: apt-get install -y openssl');
  }
  fs.mkdirSync(dir, { recursive: true });
  const safe = cn.replace(/[^A-Za-z0-9.-]/g, '_');
  const cert = path.join(dir, `${safe}.crt.pem`);
  const key = path.join(dir, `${safe}.key.pem`);
  const sans = new Set(['IP:127.0.0.1', 'DNS:localhost', net.isIP(cn) ? `IP:${cn}` : `DNS:${cn}`]);
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '2',
      '-subj',
      `/CN=${cn}`,
      '-addext',
      `subjectAltName=${[...sans].join(',')}`,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  return { cert, key, certPem: fs.readFileSync(cert, 'utf8'), keyPem: fs.readFileSync(key, 'utf8') };
}
