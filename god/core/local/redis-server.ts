// The local fleet's private redis-server: a free loopback port, its data in the state dir (append-only file).
// It has a random password (any local user can reach a loopback port): written to a 0600 config file in the
// 0700 redis folder, never on argv (visible in ps and /proc/<pid>/cmdline), and handed to the roles in
// FG_REDIS_URL through their environment only.
import { type ChildProcess, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { UserError } from '../../../kernel/errors.ts';
import { ensurePrivateDir, writePrivateFile } from './state.ts';

export interface PrivateRedis {
  /** redis://:PASSWORD@127.0.0.1:PORT — a secret: environment and 0600 files only, redactUrl() to show */
  url: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
}

/** Ask the kernel for a free port (bind 0, read, close); the caller retries if it is taken meanwhile. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen({ host, port: 0, exclusive: true }, () => {
      const addr = srv.address() as net.AddressInfo;
      srv.close(() => resolve(addr.port));
    });
  });
}

const resp = (...args: string[]) =>
  `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;

/** One PING (after AUTH when a password is given) over a fresh connection. */
export function ping(host: string, port: number, timeoutMs = 500, password?: string): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    let data = '';
    const done = (ok: boolean) => {
      sock.removeAllListeners();
      sock.on('error', () => {});
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('connect', () => sock.write((password ? resp('AUTH', password) : '') + resp('PING')));
    sock.on('data', (d) => {
      data += d.toString();
      if (data.includes('+PONG')) done(true);
      else if (data.startsWith('-') || data.includes('\r\n-')) done(false);
    });
    sock.once('error', () => done(false));
  });
}

export async function startPrivateRedis(o: { bin: string; dir: string }): Promise<PrivateRedis> {
  ensurePrivateDir(o.dir);
  const logFile = path.join(o.dir, 'redis.log');
  // a fresh password per start: a leaked old one is worth nothing
  const password = crypto.randomBytes(24).toString('hex');
  const confFile = path.join(o.dir, 'redis.conf');
  writePrivateFile(
    confFile,
    `# written by god at each start; holds the password, so 0600\nrequirepass ${password}\n`,
  );
  let lastErr = '';
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const child: ChildProcess = spawn(
      o.bin,
      [
        // the config file (first argument) carries the password; everything else stays on argv
        confFile,
        '--bind',
        '127.0.0.1',
        '--port',
        String(port),
        '--dir',
        o.dir,
        '--save',
        '',
        // an append-only file in the state folder: a restarted Redis keeps the log stream and the fleet's state
        '--appendonly',
        'yes',
        '--daemonize',
        'no',
        '--protected-mode',
        'yes',
        '--logfile',
        logFile,
      ],
      { stdio: 'ignore' },
    );
    const spawnErr = new Promise<Error>((r) => child.once('error', r));
    let exited = false;
    child.once('exit', () => (exited = true));
    const until = Date.now() + 10_000;
    while (Date.now() < until && !exited) {
      if (await ping('127.0.0.1', port, 500, password)) {
        return {
          url: `redis://:${password}@127.0.0.1:${port}`,
          port,
          pid: child.pid!,
          stop: () => stopChild(child),
        };
      }
      const err = await Promise.race([spawnErr, new Promise<null>((r) => setTimeout(() => r(null), 50))]);
      if (err) {
        throw new UserError(`cannot start ${o.bin}: ${err.message}`, {
          code: 'GOD_REDIS',
          hint: 'Install Redis (apt-get install -y redis-server), set local.redis_server to its path, or point redis.url at an existing Redis.',
        });
      }
    }
    await stopChild(child);
    lastErr = fs.existsSync(logFile)
      ? fs.readFileSync(logFile, 'utf8').trim().split('\n').slice(-3).join(' | ')
      : '';
    // most likely the port was taken between freePort() and the bind: try another one
  }
  throw new UserError(`the private redis-server did not start: ${lastErr || 'no answer to PING'}`, {
    code: 'GOD_REDIS',
    hint: `Look at ${logFile}; or point redis.url in the config at an existing Redis.`,
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined)
    return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
