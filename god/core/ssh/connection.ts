// One SSH connection to one host: exec with exit code and output (buffered or streamed), an interactive
// shell, SFTP uploads with progress.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import ssh2 from 'ssh2';
import { UserError } from '../../../kernel/errors.ts';
import { connectError, forwardError, type HostKeyProblem, noNodeError } from './errors.ts';
import { fingerprint, KnownHosts, keyTypeOfBlob } from './known-hosts.ts';
import { defaultKnownHosts, type ExecResult, type SshOptions, type SshTarget } from './types.ts';

type Client = InstanceType<typeof ssh2.Client>;
type SFTPWrapper = ssh2.SFTPWrapper;

const MAX_OUTPUT = 4 * 1024 * 1024;
const knownHostsCache = new Map<string, KnownHosts>();

function knownHostsFor(file: string): KnownHosts {
  let k = knownHostsCache.get(file);
  if (!k) knownHostsCache.set(file, (k = new KnownHosts(file)));
  return k;
}

function defaultPrivateKey(): Buffer | undefined {
  for (const n of ['id_ed25519', 'id_ecdsa', 'id_rsa']) {
    const f = path.join(os.homedir(), '.ssh', n);
    if (fs.existsSync(f)) return fs.readFileSync(f);
  }
  return undefined;
}

/** Single-quote a string for a POSIX shell. */
export const shq = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

export class SshConnection {
  private sftpP?: Promise<SFTPWrapper>;
  closed = false;
  /** the jump host connection this one goes through (ssh.jump), if any */
  private via?: SshConnection;
  private readonly closeHandlers: Array<() => void> = [];

  private constructor(
    readonly target: SshTarget,
    private readonly client: Client,
  ) {
    client.on('close', () => {
      this.closed = true;
      for (const h of this.closeHandlers) h();
    });
    client.on('error', () => {
      this.closed = true;
    });
  }

  onClose(h: () => void): void {
    this.closeHandlers.push(h);
  }

  /**
   * Connect to `target`: directly, through `via` (an open connection to the jump host; the pool shares one),
   * or, when the options name a jump host and no `via` is given, through a jump connection of its own that
   * closes with this one.
   */
  static async connect(
    target: SshTarget,
    opts: SshOptions = {},
    via?: SshConnection,
  ): Promise<SshConnection> {
    if (via || !opts.jump) return SshConnection.open(target, opts, via);
    const jump = await SshConnection.connectJump(opts);
    try {
      const c = await SshConnection.open(target, opts, jump);
      c.onClose(() => jump.close());
      return c;
    } catch (err) {
      jump.close();
      throw err;
    }
  }

  /** The connection to the options' jump host: its own user and key when given, else the targets'. */
  static connectJump(opts: SshOptions): Promise<SshConnection> {
    const j = opts.jump;
    if (!j) return Promise.reject(new Error('connectJump: no jump host in the SSH options'));
    const target: SshTarget = {
      name: `jump host ${j.address}`,
      address: j.address,
      port: j.port,
      user: j.user,
    };
    return SshConnection.open(target, {
      ...opts,
      jump: undefined,
      privateKeyPath: j.privateKeyPath ?? opts.privateKeyPath,
      privateKey: j.privateKeyPath ? undefined : opts.privateKey,
    });
  }

  /**
   * A TCP stream to host:port the way God reaches this host: through its jump host's connection (ssh2
   * forwardOut) when it has one, so a service on a private address is reachable as this host's SSH is.
   * Undefined when God reaches the host directly (connect to it yourself).
   */
  viaJump(host: string, port: number): Promise<Duplex> | undefined {
    return this.via?.forward(host, port);
  }

  /** A TCP stream from this (jump) host to host:port, for a connection through it (ProxyJump). */
  private forward(host: string, port: number): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      this.client.forwardOut('127.0.0.1', 0, host, port, (err, stream) =>
        err ? reject(err) : resolve(stream),
      );
    });
  }

  private static async open(
    target: SshTarget,
    opts: SshOptions,
    via?: SshConnection,
  ): Promise<SshConnection> {
    let sock: Duplex | undefined;
    if (via) {
      const t = {
        ...target,
        port: target.port ?? 22,
        user: target.user ?? opts.user ?? os.userInfo().username,
      };
      try {
        sock = await via.forward(t.address, t.port);
      } catch (err) {
        throw forwardError(t, via.target, err as Error);
      }
    }
    const c = await SshConnection.handshake(target, opts, sock);
    c.via = via;
    return c;
  }

  private static handshake(target: SshTarget, opts: SshOptions, sock?: Duplex): Promise<SshConnection> {
    const knownHostsPath = opts.knownHostsPath ?? defaultKnownHosts();
    const known = knownHostsFor(knownHostsPath);
    const port = target.port ?? 22;
    const user = target.user ?? opts.user ?? os.userInfo().username;
    const t: SshTarget = { ...target, port, user };
    let privateKey: string | Buffer | undefined = opts.privateKey;
    if (!privateKey && opts.privateKeyPath) {
      try {
        privateKey = fs.readFileSync(opts.privateKeyPath);
      } catch (err) {
        return Promise.reject(
          new UserError(`cannot read the SSH key ${opts.privateKeyPath}: ${(err as Error).message}`, {
            code: 'GOD_SSH_KEY_UNREADABLE',
            hint: 'Point --ssh-key / GOD_SSH_KEY (or ssh.key in god.config.yaml) at a readable private key.',
          }),
        );
      }
    }
    const agent = opts.agent ?? (privateKey ? undefined : process.env.SSH_AUTH_SOCK);
    if (!privateKey && !agent) privateKey = defaultPrivateKey();

    let hostKey: HostKeyProblem | undefined;
    const client = new ssh2.Client();
    return new Promise<SshConnection>((resolve, reject) => {
      let settled = false;
      client.once('ready', () => {
        settled = true;
        resolve(new SshConnection(t, client));
      });
      client.on('error', (err: Error & { code?: string; level?: string }) => {
        if (settled) return;
        settled = true;
        client.end();
        reject(connectError(t, err, knownHostsPath, hostKey));
      });
      client.on('close', () => {
        if (settled) return;
        settled = true;
        reject(
          connectError(
            t,
            Object.assign(new Error('connection closed'), { code: 'ECONNRESET' }),
            knownHostsPath,
            hostKey,
          ),
        );
      });
      try {
        client.connect({
          host: t.address,
          port,
          sock,
          username: user,
          privateKey,
          passphrase: opts.passphrase,
          agent,
          readyTimeout: opts.connectTimeoutMs ?? 10_000,
          keepaliveInterval: 10_000,
          keepaliveCountMax: 3,
          hostVerifier: (blob: Buffer) => {
            const got = `${keyTypeOfBlob(blob)} ${fingerprint(blob)}`;
            const v = known.check(t.address, port, blob);
            if (v.status === 'match') return true;
            if (v.status === 'unknown' && opts.acceptNew) {
              known.add(t.address, port, blob);
              return true;
            }
            hostKey =
              v.status === 'mismatch'
                ? { kind: 'mismatch', got, expected: v.expected }
                : { kind: v.status, got };
            return false;
          },
        });
      } catch (err) {
        settled = true;
        reject(connectError(t, err as Error, knownHostsPath));
      }
    });
  }

  /** Run a command; resolves with its exit code and output (never rejects on a non-zero exit). */
  exec(cmd: string, opts: { stdin?: string | Buffer; timeoutMs?: number } = {}): Promise<ExecResult> {
    return new Promise<ExecResult>((resolve, reject) => {
      this.client.exec(cmd, (err, stream) => {
        if (err) {
          reject(this.lost(err));
          return;
        }
        const out: Buffer[] = [];
        const errb: Buffer[] = [];
        let outLen = 0;
        let errLen = 0;
        let timer: NodeJS.Timeout | undefined;
        if (opts.timeoutMs) {
          timer = setTimeout(() => {
            stream.close();
            reject(
              new UserError(
                `command on ${this.target.name} timed out after ${opts.timeoutMs} ms: ${cmd.slice(0, 120)}`,
                {
                  code: 'GOD_SSH_TIMEOUT',
                  hint: 'The host may be overloaded or the command stuck; check it by hand.',
                },
              ),
            );
          }, opts.timeoutMs);
        }
        stream.on('data', (d: Buffer) => {
          if (outLen < MAX_OUTPUT) out.push(d);
          outLen += d.length;
        });
        stream.stderr.on('data', (d: Buffer) => {
          if (errLen < MAX_OUTPUT) errb.push(d);
          errLen += d.length;
        });
        stream.on('close', (code: number | null, signal?: string) => {
          clearTimeout(timer);
          resolve({
            code: code ?? null,
            signal: signal ?? undefined,
            stdout: Buffer.concat(out).toString('utf8'),
            stderr: Buffer.concat(errb).toString('utf8'),
          });
        });
        if (opts.stdin !== undefined) stream.end(opts.stdin);
        else stream.end();
      });
    });
  }

  /** Run a command and return stdout; a non-zero exit becomes an error quoting stderr. */
  async run(
    cmd: string,
    opts: { stdin?: string | Buffer; timeoutMs?: number; what?: string } = {},
  ): Promise<string> {
    const r = await this.exec(cmd, opts);
    if (r.code !== 0) {
      const tail = (r.stderr || r.stdout).trim().split('\n').slice(-8).join('\n');
      throw new UserError(
        `${opts.what ?? 'command'} failed on ${this.target.name} (exit ${r.code ?? r.signal}): ${tail || '(no output)'}`,
        {
          code: 'GOD_SSH_EXEC',
          hint: `Run it by hand on ${this.target.name} to see more: ${cmd.slice(0, 200)}`,
        },
      );
    }
    return r.stdout;
  }

  /** Check Node is on the host (and new enough); returns its version. */
  async nodeVersion(nodeBin = 'node', minMajor = 20): Promise<string> {
    const r = await this.exec(`${shq(nodeBin)} -e 'process.stdout.write(process.versions.node)'`);
    if (r.code === 127 || /not found|No such file/i.test(r.stderr))
      throw noNodeError(this.target, nodeBin, 'was not found');
    if (r.code !== 0)
      throw noNodeError(this.target, nodeBin, `does not run (${r.stderr.trim().slice(0, 200)})`);
    const v = r.stdout.trim();
    if (Number(v.split('.')[0]) < minMajor)
      throw noNodeError(this.target, nodeBin, `is version ${v}, need ${minMajor}+`);
    return v;
  }

  sftp(): Promise<SFTPWrapper> {
    this.sftpP ??= new Promise<SFTPWrapper>((resolve, reject) => {
      this.client.sftp((err, sftp) => (err ? reject(this.lost(err)) : resolve(sftp)));
    });
    this.sftpP.catch(() => {
      this.sftpP = undefined;
    });
    return this.sftpP;
  }

  /** Upload a local file (parallel chunks) to remotePath with mode; `onProgress(bytesDone, total)`. */
  async upload(
    localPath: string,
    remotePath: string,
    opts: { mode?: number; onProgress?: (done: number, total: number) => void } = {},
  ): Promise<void> {
    const sftp = await this.sftp();
    await new Promise<void>((resolve, reject) => {
      sftp.fastPut(
        localPath,
        remotePath,
        {
          mode: opts.mode ?? 0o644,
          concurrency: 16,
          chunkSize: 64 * 1024,
          step: (done, _nb, total) => opts.onProgress?.(done, total),
        },
        (err) =>
          err
            ? reject(
                new UserError(
                  `upload of ${path.basename(localPath)} to ${this.target.name}:${remotePath} failed: ${err.message}`,
                  {
                    code: 'GOD_SSH_UPLOAD',
                    hint: `Check free space and permissions of ${path.dirname(remotePath)} on ${this.target.name}.`,
                    cause: err,
                  },
                ),
              )
            : resolve(),
      );
    });
  }

  /**
   * Run a command, handing its output on as it comes (god exec: long commands show progress); resolves with
   * the exit status. `signal` closes the channel (the remote command gets SIGHUP when sshd sees it go).
   */
  stream(
    cmd: string,
    on: { stdout(d: Buffer): void; stderr(d: Buffer): void },
    signal?: AbortSignal,
  ): Promise<{ code: number | null; signal?: string }> {
    return new Promise((resolve, reject) => {
      this.client.exec(cmd, (err, ch) => {
        if (err) return reject(this.lost(err));
        const stop = () => ch.close();
        signal?.addEventListener('abort', stop, { once: true });
        ch.on('data', (d: Buffer) => on.stdout(d));
        ch.stderr.on('data', (d: Buffer) => on.stderr(d));
        ch.on('close', (code: number | null, sig?: string) => {
          signal?.removeEventListener('abort', stop);
          resolve({ code: code ?? null, signal: sig ?? undefined });
        });
        ch.end();
      });
    });
  }

  /** An interactive login shell on a PTY of `rows` x `cols` (god ssh); the caller wires it to a terminal. */
  shell(win: { rows: number; cols: number; term?: string }): Promise<ssh2.ClientChannel> {
    return new Promise((resolve, reject) => {
      this.client.shell({ rows: win.rows, cols: win.cols, term: win.term ?? 'xterm-256color' }, (err, ch) =>
        err ? reject(this.lost(err)) : resolve(ch),
      );
    });
  }

  private lost(err: Error): UserError {
    return new UserError(`SSH connection to ${this.target.name} failed: ${err.message}`, {
      code: this.closed ? 'GOD_SSH_UNREACHABLE' : 'GOD_SSH',
      hint: `Check that ${this.target.name} is still up and reachable.`,
      cause: err,
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.client.end();
  }
}
