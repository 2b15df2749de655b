// The local fleet's private redis-server: a free loopback port, its data in the state dir, no persistence.
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { UserError } from '../../../kernel/errors.ts';

export interface PrivateRedis {
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

/** One PING over a fresh connection. */
export function ping(host: string, port: number, timeoutMs = 500): Promise<boolean> {
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
    sock.once('connect', () => sock.write('*1\r\n$4\r\nPING\r\n'));
    sock.on('data', (d) => {
      data += d.toString();
      if (data.includes('+PONG')) done(true);
      else if (data.startsWith('-')) done(false);
    });
    sock.once('error', () => done(false));
  });
}

export async function startPrivateRedis(o: { bin: string; dir: string }): Promise<PrivateRedis> {
  fs.mkdirSync(o.dir, { recursive: true });
  const logFile = path.join(o.dir, 'redis.log');
  let lastErr = '';
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const child: ChildProcess = spawn(
      o.bin,
      [
        '--bind',
        '127.0.0.1',
        '--port',
        String(port),
        '--dir',
        o.dir,
        '--save',
        '',
        '--appendonly',
        'no',
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
      if (await ping('127.0.0.1', port)) {
        return {
          url: `redis://127.0.0.1:${port}`,
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
