// Issue 15 item 8: planted secrets from every source (God's environment, .god/secrets, SSM, Secrets Manager on
// moto with IAM enforced) deployed with the real `god` binary to loopback sshd hosts. No value may appear in any
// file God wrote on the hosts (but the 0600 secrets env files, whose mode and owner are checked), in any
// `--json` event or line God printed, in the roles' log stream, nor in `ps` sampled during the deploy; the roles
// get them in their environment. Then `god secrets push` delivers a changed value and restarts only its users.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import {
  CreateAccessKeyCommand,
  CreateUserCommand,
  IAMClient,
  PutUserPolicyCommand,
} from '@aws-sdk/client-iam';
import { Redis } from 'ioredis';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GodConfigSchema } from '../../god/core/config/schema.ts';
import { awsClients } from '../../god/core/secrets/aws.ts';
import { writeSecret } from '../../god/core/secrets/file.ts';
import { resolveSecrets } from '../../god/core/secrets/resolve.ts';
import { UserError } from '../../kernel/errors.ts';
import {
  makeTempDir,
  motoAvailable,
  skipWithout,
  sshAvailable,
  useMoto,
  useRedis,
  useSshHosts,
} from '../harness/index.ts';
import { runCli } from '../../god/cli/main.ts';
import { god } from './cli-helpers.ts';
import { buildFixture } from './deploy/fixtures/build.ts';
import { seedRuntime, sshInventory } from './deploy/helpers.ts';

const PREFIX = 'leak:';
const plant = (kind: string) => `planted-${kind}-${randomBytes(9).toString('hex')}`;
const VALUES = { env: plant('env'), file: plant('file'), ssm: plant('ssm'), sm: plant('sm') };
const NEW_ENV = plant('env2');

/** Every file under `dir` (the seeded runtime aside: the test put it there, God did not write it). */
function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== 'runtimes') out.push(...filesUnder(p));
    } else if (e.isFile()) out.push(p);
  }
  return out;
}

/** Every process's command line, as `ps` shows it, sampled until stop() */
function samplePs() {
  const seen = new Set<string>();
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      await new Promise<void>((resolve) =>
        execFile('ps', ['-eo', 'pid,user,args', '--no-headers', '-ww'], { maxBuffer: 16 << 20 }, (_e, so) => {
          for (const l of so.split('\n')) if (l.trim()) seen.add(l.trim().replace(/^\d+\s+/, ''));
          resolve();
        }),
      );
      await new Promise((r) => setTimeout(r, 80));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return [...seen];
    },
  };
}

const environOf = (pid: number) =>
  Object.fromEntries(
    fs
      .readFileSync(`/proc/${pid}/environ`, 'utf8')
      .split('\0')
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );

describe.skipIf(
  skipWithout(
    { sshd: sshAvailable(), moto_server: motoAvailable() },
    "apt-get install -y openssh-server; pip install 'moto[server]'",
  ),
)('secrets never leak (god deploy to sshd hosts, sources on moto)', () => {
  const getRedis = useRedis();
  const getFleet = useSshHosts(2);
  const getMoto = useMoto();
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let redis: Redis;
  let denied: Record<string, string>;
  const saved = { ...process.env };
  const base = (i: number) => path.join(getFleet().hosts[i]!.root, 'fg');
  const childPid = (i: number, id: string) =>
    Number(JSON.parse(fs.readFileSync(path.join(base(i), 'run', `${id}.state`), 'utf8')).child_pid);

  beforeAll(async () => {
    dir = makeTempDir('secrets-leak');
    redis = new Redis(getRedis().url);
    const fleet = getFleet();
    const m = getMoto();
    await new SSMClient(m.clientConfig).send(
      new PutParameterCommand({ Name: '/filmgrain/leak/ssm', Type: 'SecureString', Value: VALUES.ssm }),
    );
    await new SecretsManagerClient(m.clientConfig).send(
      new CreateSecretCommand({ Name: 'filmgrain/leak/sm', SecretString: VALUES.sm }),
    );
    const iam = new IAMClient(m.clientConfig);
    await iam.send(new CreateUserCommand({ UserName: 'god' }));
    await iam.send(
      new PutUserPolicyCommand({
        UserName: 'god',
        PolicyName: 'read-secrets',
        PolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            { Effect: 'Allow', Action: ['ssm:GetParameter', 'secretsmanager:GetSecretValue'], Resource: '*' },
          ],
        }),
      }),
    );
    const key = (await iam.send(new CreateAccessKeyCommand({ UserName: 'god' }))).AccessKey!;
    // an IAM user with no policy: what credentials without access get from AWS
    await iam.send(new CreateUserCommand({ UserName: 'nobody' }));
    const k2 = (await iam.send(new CreateAccessKeyCommand({ UserName: 'nobody' }))).AccessKey!;
    denied = { AWS_ACCESS_KEY_ID: k2.AccessKeyId!, AWS_SECRET_ACCESS_KEY: k2.SecretAccessKey! };
    // from here on moto checks every call against IAM (POST /moto-api/reset-auth 0): a real AccessDenied
    expect((await fetch(`${m.endpoint}/moto-api/reset-auth`, { method: 'POST', body: '0' })).ok).toBe(true);

    fs.writeFileSync(
      path.join(dir, 'god.config.yaml'),
      stringify({
        provider: 'ssh',
        redis: { url: getRedis().url, prefix: PREFIX },
        roles: { feeder: { env: { FG_STOP_TIMEOUT: '3s' } }, keeper: { env: { FG_STOP_TIMEOUT: '3s' } } },
        secrets: {
          tok_env: { env: 'FG_SECRET_ENV', roles: ['feeder'] },
          tok_file: { env: 'FG_SECRET_FILE', roles: ['keeper'] },
          tok_ssm: { env: 'FG_SECRET_SSM', from: 'ssm:/filmgrain/leak/ssm' },
          tok_sm: {
            env: 'FG_SECRET_SM',
            roles: ['feeder', 'keeper'],
            from: 'secretsmanager:filmgrain/leak/sm',
          },
        },
        ssh: sshInventory(fleet),
      }),
    );
    writeSecret(dir, 'tok_file', VALUES.file);
    await Promise.all(fleet.hosts.map((h) => seedRuntime(path.join(h.root, 'fg'))));
    await buildFixture(path.join(dir, 'b1'), { version: 'r1', roles: ['feeder', 'keeper'] });
    env = {
      GOD_CONFIG: path.join(dir, 'god.config.yaml'),
      GOD_BUNDLE_DIR: path.join(dir, 'b1'),
      GOD_HEALTH_TIMEOUT: '20s',
      GOD_SECRET_TOK_ENV: VALUES.env,
      AWS_ENDPOINT_URL: m.endpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: key.AccessKeyId!,
      AWS_SECRET_ACCESS_KEY: key.SecretAccessKey!,
    };
  });
  afterAll(() => {
    redis?.disconnect();
    process.env = saved;
  });

  /** `god ARGS` in this process (runCli), with `env` as its and the process's environment */
  async function godHere(args: string[], extra: NodeJS.ProcessEnv = {}) {
    let stdout = '';
    let stderr = '';
    process.env = { ...saved, ...env, ...extra };
    try {
      const code = await runCli(args, {
        env: process.env,
        cwd: dir,
        stdout: { write: (t: string) => (stdout += t) },
        stderr: { write: (t: string) => (stderr += t) },
      });
      const lines = stdout
        .split('\n')
        .filter((l) => l.trim())
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      return { code, stdout, stderr, lines };
    } finally {
      process.env = saved;
    }
  }

  /** every place a value must not be: the hosts' files (but *.secrets.env), God's output, the roles' logs */
  async function leaks(values: string[], printed: string, ps: string[]): Promise<string[]> {
    const found: string[] = [];
    const logs = (await redis.xrange(`${PREFIX}logs`, '-', '+')).map(([, f]) => f.join(' '));
    expect(logs.length).toBeGreaterThan(0);
    const places: Array<[string, string]> = [
      ['god output', printed],
      ['log stream', logs.join('\n')],
      ['ps', ps.join('\n')],
    ];
    for (let i = 0; i < 2; i++) {
      for (const f of filesUnder(base(i))) {
        if (f.endsWith('.secrets.env')) continue;
        places.push([f, fs.readFileSync(f, 'latin1')]);
      }
    }
    for (const u of fs.existsSync('/etc/systemd/system') ? fs.readdirSync('/etc/systemd/system') : []) {
      if (u.startsWith('fg-')) places.push([u, fs.readFileSync(path.join('/etc/systemd/system', u), 'utf8')]);
    }
    expect(places.length).toBeGreaterThan(10);
    for (const [where, text] of places)
      for (const v of values) if (text.includes(v)) found.push(`${v} in ${where}`);
    return found;
  }

  it('deploy: each process gets its secrets, only through a 0600 secrets env file; no value anywhere else', async () => {
    const ps = samplePs();
    const r = await god(['deploy', '--json'], { cwd: dir, env, timeoutMs: 120_000 });
    const seen = await ps.stop();
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(
      seen.some((l) => l.includes('fg-agent.mjs')),
      'ps saw the deploy',
    ).toBe(true);
    const info = r.lines.find((l) => l.type === 'info' && (l.data as { secrets?: unknown })?.secrets);
    expect(
      (info!.data as { secrets: Array<{ name: string; source: string }> }).secrets.map((s) => [
        s.name,
        s.source,
      ]),
    ).toEqual([
      ['tok_env', 'env'],
      ['tok_file', 'file'],
      ['tok_ssm', 'ssm'],
      ['tok_sm', 'secretsmanager'],
    ]);
    // delivered: the role processes have them (and only their roles' ones)
    const feeder = environOf(childPid(0, 'feeder-host1'));
    expect([feeder.FG_SECRET_ENV, feeder.FG_SECRET_FILE, feeder.FG_SECRET_SSM, feeder.FG_SECRET_SM]).toEqual([
      VALUES.env,
      undefined,
      VALUES.ssm,
      VALUES.sm,
    ]);
    const keeper = environOf(childPid(1, 'keeper-host2'));
    expect([keeper.FG_SECRET_ENV, keeper.FG_SECRET_FILE, keeper.FG_SECRET_SSM, keeper.FG_SECRET_SM]).toEqual([
      undefined,
      VALUES.file,
      VALUES.ssm,
      VALUES.sm,
    ]);
    // the files that do hold them: 0600, owned by the agent's user (root here, as under systemd)
    const secretFiles = [0, 1].flatMap((i) => filesUnder(base(i)).filter((f) => f.endsWith('.secrets.env')));
    expect(secretFiles.map((f) => path.basename(f)).sort()).toEqual([
      'feeder-host1.secrets.env',
      'keeper-host1.secrets.env',
      'keeper-host2.secrets.env',
    ]);
    for (const f of secretFiles) {
      const st = fs.statSync(f);
      expect([f, st.mode & 0o777, st.uid]).toEqual([f, 0o600, process.getuid!()]);
      expect(fs.statSync(path.dirname(f)).mode & 0o077).toBe(0);
    }
    expect(await leaks(Object.values(VALUES), r.stdout + r.stderr, seen)).toEqual([]);
  });

  it('secrets list shows names, sources and roles, never values', async () => {
    const r = await godHere(['secrets', 'list', '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout + r.stderr).not.toMatch(/planted-/);
    const data = (r.lines.at(-1) as { data: { secrets: Array<Record<string, unknown>> } }).data;
    expect(
      data.secrets.map((s) => [s.name, s.env, s.source, s.ref, (s.roles as string[]).join(',')]),
    ).toEqual([
      ['tok_env', 'FG_SECRET_ENV', 'env', 'GOD_SECRET_TOK_ENV', 'feeder'],
      ['tok_file', 'FG_SECRET_FILE', 'file', '.god/secrets', 'keeper'],
      ['tok_ssm', 'FG_SECRET_SSM', 'ssm', 'ssm:/filmgrain/leak/ssm', 'feeder,endpoint,keeper'],
      ['tok_sm', 'FG_SECRET_SM', 'secretsmanager', 'secretsmanager:filmgrain/leak/sm', 'feeder,keeper'],
    ]);
  });

  it('secrets push delivers a changed value and restarts only the processes using it, health-checked', async () => {
    const before = {
      feeder: childPid(0, 'feeder-host1'),
      k1: childPid(0, 'keeper-host1'),
      k2: childPid(1, 'keeper-host2'),
    };
    const ps = samplePs();
    // in this process (the deploy above ran the binary): the SDK reads the credentials from process.env
    const r = await godHere(['secrets', 'push', '--json'], { GOD_SECRET_TOK_ENV: NEW_ENV });
    const seen = await ps.stop();
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const res = r.lines.at(-1) as {
      command: string;
      data: { hosts: Array<{ host: string; restarted: string[] }> };
    };
    expect(res.command).toBe('secrets push');
    expect(res.data.hosts.map((h) => [h.host, h.restarted])).toEqual([
      ['host1', ['feeder-host1']],
      ['host2', []],
    ]);
    expect(r.lines.some((l) => l.type === 'host' && l.step === 'health' && l.ok === true)).toBe(true);
    const after = {
      feeder: childPid(0, 'feeder-host1'),
      k1: childPid(0, 'keeper-host1'),
      k2: childPid(1, 'keeper-host2'),
    };
    expect(after.feeder).not.toBe(before.feeder);
    expect([after.k1, after.k2]).toEqual([before.k1, before.k2]);
    expect(environOf(after.feeder).FG_SECRET_ENV).toBe(NEW_ENV);
    expect(await leaks([...Object.values(VALUES), NEW_ENV], r.stdout + r.stderr, seen)).toEqual([]);
  });

  /** resolve in this process with the SDK's default chain: credentials and endpoint from the environment */
  async function resolveWith(creds: Record<string, string>, from: string): Promise<UserError | string> {
    process.env = { ...saved, ...env, ...creds };
    const config = GodConfigSchema.parse({ secrets: { tok: { env: 'FG_TOK', from } } });
    return resolveSecrets({ config, baseDir: dir, env: {}, clients: awsClients() }).then(
      (r) => r[0]!.value,
      (e: unknown) => e as UserError,
    );
  }

  it('AWS: a missing parameter or secret names the secret and how to create it', async () => {
    const e1 = (await resolveWith({}, 'ssm:/filmgrain/leak/nope')) as UserError;
    expect([e1.code, e1.message]).toEqual([
      'GOD_SECRET_NOT_FOUND',
      'secret tok: SSM parameter /filmgrain/leak/nope does not exist (ParameterNotFound)',
    ]);
    expect(e1.hint).toMatch(/aws ssm put-parameter --name \/filmgrain\/leak\/nope --type SecureString/);
    const e2 = (await resolveWith({}, 'secretsmanager:nope')) as UserError;
    expect([e2.code, e2.message]).toEqual([
      'GOD_SECRET_NOT_FOUND',
      'secret tok: Secrets Manager secret nope does not exist (ResourceNotFoundException)',
    ]);
  });

  it('AWS: access denied (an IAM user without a policy) names the secret and the permission, no value', async () => {
    for (const [from, perm] of [
      ['ssm:/filmgrain/leak/ssm', /ssm:GetParameter/],
      ['secretsmanager:filmgrain/leak/sm', /secretsmanager:GetSecretValue/],
    ] as const) {
      const e = (await resolveWith(denied, from)) as UserError;
      expect(e).toBeInstanceOf(UserError);
      expect(e.code, e.message).toBe('GOD_SECRET_DENIED');
      // moto answers these JSON services' 403 with an XML body the SDK cannot parse: HTTP 403 then
      expect(e.message).toMatch(/^secret tok: access to .* was denied \((AccessDenied\w*|HTTP 403)\)$/);
      expect(e.hint).toMatch(perm);
      expect(`${e.message} ${e.hint}`).not.toMatch(/planted-/);
    }
    expect(await resolveWith({}, 'ssm:/filmgrain/leak/ssm')).toBe(VALUES.ssm);
  });
});
