import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  SESClient,
  SendEmailCommand,
  SendRawEmailCommand,
  VerifyEmailIdentityCommand,
} from '@aws-sdk/client-ses';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { Redis } from 'ioredis';
import ssh2 from 'ssh2';
import { afterAll, describe, expect, it } from 'vitest';
import {
  findProcessesUsing,
  freePort,
  harnessBaseDir,
  hostKeyBlob,
  isCI,
  killTracked,
  makeSelfSignedCert,
  makeTempDir,
  pidAlive,
  removeTempDir,
  type SshFleet,
  type SshHost,
  skipWithout,
  spawnTracked,
  sshConnectConfig,
  startMoto,
  startRedis,
  startSshHosts,
  trackedPids,
  useMoto,
  useRedis,
  useSshHosts,
  waitFor,
  waitForExit,
  waitForLine,
} from './harness/index.ts';

const clients: Array<{ disconnect(): void }> = [];
afterAll(() => {
  for (const c of clients) c.disconnect();
});

function redisClient(url: string, extra: Record<string, unknown> = {}): Redis {
  const c = new Redis(url, {
    retryStrategy: () => 50,
    maxRetriesPerRequest: null,
    lazyConnect: false,
    ...extra,
  });
  c.on('error', () => {}); // reconnect noise while a server is down
  clients.push(c);
  return c;
}

function sshConnect(cfg: ssh2.ConnectConfig): Promise<ssh2.Client> {
  return new Promise((resolve, reject) => {
    const c = new ssh2.Client();
    c.once('ready', () => resolve(c));
    c.once('error', reject);
    c.connect(cfg);
  });
}

function sshExec(c: ssh2.Client, cmd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    c.exec(cmd, (err, stream) => {
      if (err) return reject(err);
      let stdout = '';
      let stderr = '';
      let code = -1;
      stream.on('data', (d: Buffer) => (stdout += d.toString()));
      stream.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      stream.on('exit', (c: number) => (code = c));
      stream.on('close', () => resolve({ code, stdout, stderr }));
    });
  });
}

function sftpRoundTrip(c: ssh2.Client, file: string, content: string): Promise<string> {
  return new Promise((resolve, reject) => {
    c.sftp((err, sftp) => {
      if (err) return reject(err);
      sftp.writeFile(file, content, (werr) => {
        if (werr) return reject(werr);
        sftp.readFile(file, (rerr, buf) => {
          sftp.end();
          if (rerr) return reject(rerr);
          resolve(buf.toString());
        });
      });
    });
  });
}

const harnessDirs = (prefix: string) =>
  fs.readdirSync(harnessBaseDir()).filter((n) => n.startsWith(`fg-${prefix}-`));

describe('tools (skip locally, fail under CI)', () => {
  it('CI=true turns a missing tool into an error naming it and how to install it', () => {
    expect(() => skipWithout({ sshd: true, tmux: false }, 'apt-get install -y tmux', { CI: 'true' })).toThrow(
      /tmux is not installed.*under CI this suite must run.*apt-get install -y tmux/,
    );
  });
  it('without CI a missing tool skips (true), all present runs (false)', () => {
    expect(skipWithout({ tmux: false }, 'apt-get install -y tmux', {})).toBe(true);
    expect(skipWithout({ tmux: false }, 'apt-get install -y tmux', { CI: 'false' })).toBe(true);
    expect(skipWithout({ sshd: true }, 'x', { CI: 'true' })).toBe(false);
  });
  it('isCI reads CI like the CI services set it', () => {
    expect([isCI({ CI: 'true' }), isCI({ CI: '1' }), isCI({}), isCI({ CI: '0' }), isCI({ CI: '' })]).toEqual([
      true,
      true,
      false,
      false,
      false,
    ]);
  });
});

describe('a bench-like owner (issue 12 item 18)', () => {
  const FIXTURE = path.join(import.meta.dirname, 'harness', 'fixtures', 'bench-like.ts');

  /** Run the fixture directly under node + tsx's loader (no wrapper process), as `mode`. */
  async function ownerRun(mode: string) {
    const owner = spawnTracked(process.execPath, ['--import', 'tsx', FIXTURE, mode], {
      name: `bench-like:${mode}`,
      // its harness is its own: not this run's dir, so only its watchdog / exit hook can clean up
      env: { ...process.env, FG_HARNESS_RUN_DIR: '' },
    });
    const line = await waitForLine(owner, /^\{"pids"/, 20_000);
    const started = JSON.parse(line) as { pids: number[]; dirs: string[] };
    expect(started.pids.every((p) => Number.isInteger(p) && pidAlive(p))).toBe(true);
    expect(started.dirs.every((d) => fs.existsSync(d))).toBe(true);
    return { owner, ...started };
  }

  async function expectNothingLeft(s: { pids: number[]; dirs: string[] }) {
    await waitFor(
      () => s.pids.every((p) => !pidAlive(p)) && s.dirs.every((d) => !fs.existsSync(d)),
      10_000,
      `processes ${s.pids.join(', ')} and dirs ${s.dirs.join(', ')} of the finished owner to be gone`,
    );
  }

  it.each([
    ['finishes normally', 'finish', 'SIGUSR2'],
    ['throws', 'throw', 'SIGUSR2'],
    ['gets SIGTERM', 'wait', 'SIGTERM'],
    ['gets SIGINT (Ctrl-C)', 'wait', 'SIGINT'],
    ['is SIGKILLed', 'wait', 'SIGKILL'],
  ] as const)('when it %s, nothing it started outlives it', async (_what, mode, sig) => {
    const s = await ownerRun(mode);
    process.kill(s.owner.pid!, sig);
    expect(await waitForExit(s.owner, 15_000)).toBe(true);
    await expectNothingLeft(s);
  });
});

describe('ports', () => {
  it('freePort returns a port that can be bound right away', async () => {
    const port = await freePort();
    expect(port).toBeGreaterThan(1023);
    const srv = net.createServer();
    await new Promise<void>((r, j) => srv.once('error', j).listen(port, '127.0.0.1', () => r()));
    await new Promise<void>((r) => srv.close(() => r()));
    expect(await freePort('127.0.0.3')).toBeGreaterThan(1023);
  });
});

describe('procs', () => {
  it('waitForLine sees output, killTracked kills the whole process group', async () => {
    const child = spawnTracked('bash', ['-c', 'sleep 300 & echo "bg=$!"; echo ready >&2; wait'], {
      name: 'group',
    });
    const line = await waitForLine(child, /^bg=\d+$/, 5000);
    await waitForLine(child, /^ready$/, 5000);
    const bgPid = Number(line.slice(3));
    expect(pidAlive(bgPid)).toBe(true);
    expect(trackedPids()).toContain(child.pid);
    await killTracked(child);
    await waitFor(() => !pidAlive(bgPid), 2000, 'the background sleep to die');
    expect(pidAlive(child.pid!)).toBe(false);
    expect(trackedPids()).not.toContain(child.pid);
  });

  it('waitForLine rejects with the output when the child exits first', async () => {
    const child = spawnTracked('bash', ['-c', 'echo boom; exit 3'], { name: 'quitter' });
    await expect(waitForLine(child, /never/, 5000)).rejects.toThrow(/quitter.*code 3[\s\S]*boom/);
  });

  it('SIGTERM-ignoring children are SIGKILLed after the grace period', async () => {
    const child = spawnTracked('bash', ['-c', 'trap "" TERM; echo armed; while :; do sleep 0.1; done']);
    await waitForLine(child, /armed/, 5000);
    const t0 = Date.now();
    await killTracked(child, { graceMs: 500 });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(450);
    expect(pidAlive(child.pid!)).toBe(false);
  });

  it('waitFor names what it waited for', async () => {
    await expect(waitFor(() => false, 100, 'the moon to turn blue')).rejects.toThrow(
      /waiting for the moon to turn blue/,
    );
    let n = 0;
    await waitFor(() => ++n >= 3, 1000, 'three polls');
    expect(n).toBe(3);
  });
});

describe('redis', () => {
  it('starts, answers, restarts on the same port keeping data, and ioredis reconnects', async () => {
    const redis = await startRedis();
    expect(redis.url).toBe(`redis://127.0.0.1:${redis.port}`);
    const c = redisClient(redis.url);
    await c.set('film', 'grain');
    expect(await c.ping()).toBe('PONG');
    const port = redis.port;
    const pid = redis.pid();
    await redis.restart({ downMs: 200 });
    expect(redis.port).toBe(port);
    expect(redis.pid()).not.toBe(pid);
    expect(await c.get('film')).toBe('grain');

    // kill() is a crash: unsaved writes are gone, the port comes back on start()
    await c.set('unsaved', '1');
    await redis.kill();
    await expect(
      new Redis(redis.url, { retryStrategy: () => null, lazyConnect: true }).connect(),
    ).rejects.toThrow();
    await redis.start();
    expect(await c.get('film')).toBe('grain');
    expect(await c.get('unsaved')).toBeNull();
    await redis.stop();
    expect(fs.existsSync(redis.dir)).toBe(false);
  });

  it('password-protected redis', async () => {
    const redis = await startRedis({ password: 's3cret pw' });
    expect(redis.url).toBe(`redis://:s3cret%20pw@127.0.0.1:${redis.port}`);
    const good = redisClient(redis.url);
    expect(await good.ping()).toBe('PONG');
    const bad = redisClient(`redis://127.0.0.1:${redis.port}`, { retryStrategy: () => null });
    await expect(bad.get('x')).rejects.toThrow(/NOAUTH/);
    await redis.stop();
  });

  it('TLS redis with a self-signed cert', async () => {
    const dir = makeTempDir('certs');
    const cert = makeSelfSignedCert(dir);
    expect(cert.certPem).toContain('BEGIN CERTIFICATE');
    const redis = await startRedis({ tls: cert, password: 'pw' });
    expect(redis.url).toBe(`rediss://:pw@127.0.0.1:${redis.port}`);
    const verified = redisClient(redis.url, { tls: { ca: cert.certPem } });
    expect(await verified.ping()).toBe('PONG');
    const lax = redisClient(redis.url, { tls: { rejectUnauthorized: false } });
    await lax.set('k', 'v');
    expect(await verified.get('k')).toBe('v');
    // plain TCP against the TLS port must not work
    const plain = redisClient(`redis://:pw@127.0.0.1:${redis.port}`, {
      retryStrategy: () => null,
      connectTimeout: 1000,
      maxRetriesPerRequest: 0,
    });
    await expect(plain.ping()).rejects.toThrow();
    await redis.stop();
    removeTempDir(dir);
  });

  it('a failed start cleans up after itself', async () => {
    const before = harnessDirs('redis').length;
    const pids = trackedPids();
    await expect(startRedis({ tls: { cert: '/nonexistent.pem', key: '/nonexistent.key' } })).rejects.toThrow(
      /exited during start-up/,
    );
    expect(harnessDirs('redis').length).toBe(before);
    expect(trackedPids()).toEqual(pids);
  });

  describe('useRedis()', () => {
    const redis = useRedis();
    it('gives a running server inside tests', async () => {
      const c = redisClient(redis().url);
      expect(await c.ping()).toBe('PONG');
    });
  });
});

describe('sshd', () => {
  const fleet = useSshHosts(3);

  it('runs 3 hosts on 127.0.0.2..4 with a known_hosts file', () => {
    const f = fleet();
    expect(f.hosts.map((h) => h.address)).toEqual(['127.0.0.2', '127.0.0.3', '127.0.0.4']);
    expect(f.hosts.map((h) => h.name)).toEqual(['host1', 'host2', 'host3']);
    expect(new Set(f.hosts.map((h) => h.hostPublicKey)).size).toBe(3);
    expect(new Set(f.hosts.map((h) => h.root)).size).toBe(3);
    const known = fs.readFileSync(f.knownHostsPath, 'utf8').trim().split('\n');
    expect(known).toEqual(f.hosts.map((h) => `[${h.address}]:${h.port} ${h.hostPublicKey}`));
    expect(f.privateKey).toContain('OPENSSH PRIVATE KEY');
  });

  it('every host accepts the client key, runs commands and serves sftp', async () => {
    const f = fleet();
    for (const h of f.hosts) {
      const c = await sshConnect(sshConnectConfig(f, h));
      try {
        const r = await sshExec(c, 'echo hi; echo "$FG_HOST_NAME $FG_HOST_ROOT"; whoami');
        expect(r.code).toBe(0);
        expect(r.stdout).toBe(`hi\n${h.name} ${h.root}\n${h.user}\n`);
        const file = path.join(h.root, 'hello.txt');
        expect(await sftpRoundTrip(c, file, `from ${h.name}`)).toBe(`from ${h.name}`);
        expect(fs.readFileSync(file, 'utf8')).toBe(`from ${h.name}`);
      } finally {
        c.end();
      }
    }
  });

  it('the OpenSSH client works with the fleet key and known_hosts', () => {
    const f = fleet();
    const h = f.hosts[2];
    const r = spawnSync(
      'ssh',
      [
        '-i',
        f.privateKeyPath,
        '-o',
        `UserKnownHostsFile=${f.knownHostsPath}`,
        '-o',
        'StrictHostKeyChecking=yes',
        '-o',
        'BatchMode=yes',
        '-p',
        String(h.port),
        `${h.user}@${h.address}`,
        'echo ok',
      ],
      { encoding: 'utf8', timeout: 15_000 },
    );
    // no ssh client: skip locally (printed), fail under CI
    if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') {
      skipWithout({ ssh: false }, 'apt-get install -y openssh-client');
      return;
    }
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('ok\n');
  });

  it('a wrong host key is detected by hostVerifier', async () => {
    const f = fleet();
    const [h1, h2] = f.hosts;
    let seen: Buffer | undefined;
    const cfg = sshConnectConfig(f, h1, hostKeyBlob(h2));
    const verifier = cfg.hostVerifier;
    cfg.hostVerifier = (key: Buffer) => {
      seen = key;
      return verifier(key);
    };
    await expect(sshConnect(cfg)).rejects.toThrow(/verification failed/i);
    expect(seen && Buffer.compare(seen, hostKeyBlob(h1))).toBe(0);
  });

  it('a wrong client key is refused', async () => {
    const f = fleet();
    const dir = makeTempDir('otherkey');
    const keyPath = path.join(dir, 'k');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', keyPath]);
    const cfg = { ...sshConnectConfig(f, f.hosts[0]), privateKey: fs.readFileSync(keyPath, 'utf8') };
    await expect(sshConnect(cfg)).rejects.toThrow(/authentication methods failed/i);
    removeTempDir(dir);
  });

  it('stopHost takes one host (and its sessions) down, startHost brings it back on the same port', async () => {
    const f = fleet();
    const h: SshHost = f.hosts[1];
    const c = await sshConnect(sshConnectConfig(f, h));
    const r = await sshExec(c, 'cd /; nohup sleep 300 >/dev/null 2>&1 & echo $!');
    const bg = Number(r.stdout.trim());
    expect(pidAlive(bg)).toBe(true);
    const closed = new Promise<void>((res) => c.once('close', () => res()));
    await f.stopHost(1);
    await closed;
    expect(pidAlive(bg)).toBe(false);
    await expect(sshConnect({ ...sshConnectConfig(f, h), readyTimeout: 2000 })).rejects.toThrow();
    await f.startHost(1);
    const c2 = await sshConnect(sshConnectConfig(f, h));
    expect((await sshExec(c2, 'echo back')).stdout).toBe('back\n');
    c2.end();
  });
});

describe('moto', () => {
  const moto = useMoto();

  it('exposes env and serves S3 put/get', async () => {
    const m = moto();
    expect(m.endpoint).toBe(`http://127.0.0.1:${m.port}`);
    expect(m.env).toMatchObject({
      AWS_ENDPOINT_URL: m.endpoint,
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      AWS_REGION: 'us-east-1',
    });
    const s3 = new S3Client(m.clientConfig);
    await s3.send(new CreateBucketCommand({ Bucket: 'grain' }));
    await s3.send(new PutObjectCommand({ Bucket: 'grain', Key: 'a/b.txt', Body: 'hello s3' }));
    const got = await s3.send(new GetObjectCommand({ Bucket: 'grain', Key: 'a/b.txt' }));
    expect(await got.Body!.transformToString()).toBe('hello s3');
    s3.destroy();
  });

  it('sentSms and sentEmails parse what SNS and SES really sent; reset clears them', async () => {
    const m = moto();
    await m.reset();
    const sns = new SNSClient(m.clientConfig);
    const ses = new SESClient({ ...m.clientConfig, region: 'eu-west-1' });
    await sns.send(new PublishCommand({ PhoneNumber: '+15550001111', Message: 'keeper is down' }));
    await ses.send(new VerifyEmailIdentityCommand({ EmailAddress: 'god@filmgrain.test' }));
    await ses.send(
      new SendEmailCommand({
        Source: 'god@filmgrain.test',
        Destination: {
          ToAddresses: ['ops@filmgrain.test', 'dev@filmgrain.test'],
          CcAddresses: ['cc@filmgrain.test'],
        },
        Message: { Subject: { Data: 'Alert: keeper' }, Body: { Text: { Data: 'keeper is down' } } },
      }),
    );
    const raw =
      'From: god@filmgrain.test\r\nTo: Ops <ops@filmgrain.test>\r\nSubject: raw\r\n alert\r\n' +
      'Content-Type: text/plain\r\n\r\nraw body\r\n';
    await ses.send(new SendRawEmailCommand({ RawMessage: { Data: Buffer.from(raw) } }));

    expect(await m.sentSms()).toEqual([
      { phone: '+15550001111', message: 'keeper is down', messageId: expect.any(String) },
    ]);
    const mails = await m.sentEmails();
    expect(mails).toHaveLength(2);
    expect(mails[0]).toMatchObject({
      kind: 'send',
      from: 'god@filmgrain.test',
      to: ['ops@filmgrain.test', 'dev@filmgrain.test'],
      cc: ['cc@filmgrain.test'],
      subject: 'Alert: keeper',
      body: 'keeper is down',
    });
    expect(mails[1]).toMatchObject({
      kind: 'raw',
      to: ['ops@filmgrain.test'],
      subject: 'raw alert',
      body: 'raw body\r\n',
    });

    await m.reset();
    expect(await m.sentSms()).toEqual([]);
    expect(await m.sentEmails()).toEqual([]);
    sns.destroy();
    ses.destroy();
  });

  it('kill() is an outage, start() recovers on the same port', async () => {
    const m = moto();
    const port = m.port;
    await m.kill();
    await expect(fetch(`${m.endpoint}/moto-api/data.json`)).rejects.toThrow();
    await m.start();
    expect(m.port).toBe(port);
    expect((await fetch(`${m.endpoint}/moto-api/data.json`)).ok).toBe(true);
  });
});

describe('no leftovers', () => {
  it('after stopping everything no tracked process is alive and nothing uses the temp dirs', async () => {
    const redis = await startRedis();
    const fleet: SshFleet = await startSshHosts(2);
    const moto = await startMoto();
    const c = await sshConnect(sshConnectConfig(fleet, fleet.hosts[0]));
    // a "deployed" daemon that outlives its ssh session
    await sshExec(c, `cd ${fleet.hosts[0].root}; nohup sleep 300 >/dev/null 2>&1 &`);
    c.end();
    const sleeper = spawnTracked('bash', ['-c', 'sleep 300 & sleep 300 & wait'], { name: 'sleepers' });
    const dirs = [redis.dir, fleet.dir];
    const pids = trackedPids();
    expect(pids).toEqual(expect.arrayContaining([redis.pid(), sleeper.pid]));
    expect(pids.length).toBeGreaterThanOrEqual(5); // redis, 2 sshd, moto, sleepers
    expect(findProcessesUsing(fleet.dir).length).toBeGreaterThanOrEqual(3);

    await Promise.all([redis.stop(), fleet.stop(), moto.stop(), killTracked(sleeper)]);

    for (const pid of pids) expect(fs.existsSync(`/proc/${pid}`) && pidAlive(pid), `pid ${pid}`).toBe(false);
    expect(trackedPids()).toEqual([]);
    for (const dir of dirs) {
      expect(fs.existsSync(dir)).toBe(false);
      expect(findProcessesUsing(dir)).toEqual([]);
      const pg = spawnSync('pgrep', ['-f', dir], { encoding: 'utf8' });
      expect(pg.stdout.trim(), `pgrep -f ${dir}`).toBe('');
    }
  });
});
