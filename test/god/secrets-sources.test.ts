// Where secrets come from (god/core/secrets): God's environment, .god/secrets (refused unless 0600 in 0700,
// written by `god secrets set` from stdin and git-ignored), SSM and Secrets Manager through the real AWS SDK
// against moto_server — a missing parameter, and a real AccessDenied: moto enforces IAM once told to
// (POST /moto-api/reset-auth 0), for an IAM user God's credentials belong to that has no policy.
import { execFile } from 'node:child_process';
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
import { beforeAll, describe, expect, it } from 'vitest';
import { UserError } from '../../kernel/errors.ts';
import { GodConfigSchema } from '../../god/core/config/schema.ts';
import { awsClients } from '../../god/core/secrets/aws.ts';
import { describeSecrets, resolveSecrets } from '../../god/core/secrets/index.ts';
import { makeTempDir, motoAvailable, skipWithout, useMoto } from '../harness/index.ts';
import { GOD_BIN } from './cli-helpers.ts';

const config = GodConfigSchema.parse({
  secrets: {
    from_env: { env: 'FG_A', roles: ['feeder'] },
    from_file: { env: 'FG_B', roles: ['keeper'] },
    from_ssm: { env: 'FG_C', from: 'ssm:/filmgrain/test/c' },
    from_sm: { env: 'FG_D', from: 'secretsmanager:filmgrain/test/d' },
  },
});

async function codeOf(p: Promise<unknown>): Promise<UserError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(UserError);
  return err as UserError;
}

/** `god ARGS` with stdin, as a real process (its argv is what ps would show) */
function godWithStdin(args: string[], stdin: string, cwd: string) {
  return new Promise<{ code: number; out: string }>((resolve) => {
    const c = execFile(process.execPath, [GOD_BIN, ...args], { cwd, timeout: 30_000 }, (err, so, se) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: so + se }),
    );
    c.stdin!.end(stdin);
  });
}

describe('secrets: .god/secrets and God env', () => {
  it('reads God env first, then the file; refuses a file others can read, naming the fix', () => {
    const dir = makeTempDir('secrets-file');
    fs.mkdirSync(path.join(dir, '.god'), { mode: 0o700 });
    const file = path.join(dir, '.god', 'secrets');
    fs.writeFileSync(file, 'from_file="b \\"quoted\\""\nfrom_env=ignored\n', { mode: 0o600 });
    const c = { config, baseDir: dir, env: { GOD_SECRET_FROM_ENV: 'a' } };
    expect(describeSecrets(c).map((s) => [s.name, s.source, s.ref])).toEqual([
      ['from_env', 'env', 'GOD_SECRET_FROM_ENV'],
      ['from_file', 'file', '.god/secrets'],
      ['from_ssm', 'ssm', 'ssm:/filmgrain/test/c'],
      ['from_sm', 'secretsmanager', 'secretsmanager:filmgrain/test/d'],
    ]);
    fs.chmodSync(file, 0o644);
    expect(() => describeSecrets(c)).toThrow(/mode 0644, not 0600/);
    fs.chmodSync(file, 0o600);
    fs.chmodSync(path.dirname(file), 0o755);
    try {
      describeSecrets(c);
      expect.unreachable();
    } catch (e) {
      expect((e as UserError).code).toBe('GOD_SECRETS_FILE');
      expect((e as UserError).hint).toMatch(/chmod 700/);
    }
  });

  it('a secret with no source is refused, naming it and the ways to give it', async () => {
    const dir = makeTempDir('secrets-missing');
    const err = await codeOf(resolveSecrets({ config, baseDir: dir, env: {} }));
    expect(err.code).toBe('GOD_SECRET_MISSING');
    expect(err.message).toBe('no values for secrets from_env, from_file'.replace('values', 'value'));
    expect(err.hint).toMatch(/GOD_SECRET_FROM_ENV.*god secrets set from_env/);
  });

  it('god secrets set reads stdin into a 0600 .god/secrets (0700) and git-ignores it', async () => {
    const dir = makeTempDir('secrets-set');
    fs.writeFileSync(path.join(dir, 'god.config.yaml'), 'secrets:\n  from_file: {env: FG_B}\n');
    fs.writeFileSync(path.join(dir, '.gitignore'), 'node_modules');
    const r = await godWithStdin(['secrets', 'set', 'from_file'], 'v "1" $x\n', dir);
    expect(r.code, r.out).toBe(0);
    expect(r.out).not.toContain('v "1"');
    const file = path.join(dir, '.god', 'secrets');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
    expect(fs.readFileSync(path.join(dir, '.gitignore'), 'utf8')).toBe('node_modules\n/.god/secrets\n');
    const l = await godWithStdin(['secrets', 'list', '--json'], '', dir);
    expect(l.code, l.out).toBe(0);
    const res = JSON.parse(l.out.trim().split('\n').at(-1)!);
    expect(res.data.secrets).toEqual([
      {
        name: 'from_file',
        env: 'FG_B',
        roles: ['feeder', 'endpoint', 'keeper'],
        source: 'file',
        ref: '.god/secrets',
      },
    ]);
    const [v] = (
      await resolveSecrets({
        config: GodConfigSchema.parse({ secrets: { from_file: { env: 'FG_B' } } }),
        baseDir: dir,
        env: {},
      })
    ).map((s) => s.value);
    expect(v).toBe('v "1" $x');
  });
});

describe.skipIf(skipWithout({ moto_server: motoAvailable() }, "pip install 'moto[server]'"))(
  'secrets from AWS (moto_server, real SDK)',
  () => {
    const getMoto = useMoto();
    let allowed: { accessKeyId: string; secretAccessKey: string };
    let denied: { accessKeyId: string; secretAccessKey: string };
    const saved = { ...process.env };

    beforeAll(async () => {
      const m = getMoto();
      const ssm = new SSMClient(m.clientConfig);
      await ssm.send(
        new PutParameterCommand({ Name: '/filmgrain/test/c', Type: 'SecureString', Value: 'ssm-planted' }),
      );
      await new SecretsManagerClient(m.clientConfig).send(
        new CreateSecretCommand({ Name: 'filmgrain/test/d', SecretString: 'sm-planted' }),
      );
      const iam = new IAMClient(m.clientConfig);
      const user = async (name: string, policy?: object) => {
        await iam.send(new CreateUserCommand({ UserName: name }));
        if (policy)
          await iam.send(
            new PutUserPolicyCommand({
              UserName: name,
              PolicyName: 'p',
              PolicyDocument: JSON.stringify(policy),
            }),
          );
        const k = (await iam.send(new CreateAccessKeyCommand({ UserName: name }))).AccessKey!;
        return { accessKeyId: k.AccessKeyId!, secretAccessKey: k.SecretAccessKey! };
      };
      allowed = await user('god', {
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Action: ['ssm:GetParameter', 'secretsmanager:GetSecretValue'], Resource: '*' },
        ],
      });
      denied = await user('nobody');
      // from here on moto checks every call against IAM (the harness's test/test keys are no IAM user)
      const r = await fetch(`${m.endpoint}/moto-api/reset-auth`, { method: 'POST', body: '0' });
      expect(r.ok).toBe(true);
      // moto stops with the suite; God's process env is restored
      return () => {
        process.env = saved;
      };
    });

    /** resolve with God's default client chain: the credentials and endpoint come from the environment */
    function resolveAs(creds: { accessKeyId: string; secretAccessKey: string }, cfg = config) {
      process.env = {
        ...saved,
        AWS_ENDPOINT_URL: getMoto().endpoint,
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: creds.accessKeyId,
        AWS_SECRET_ACCESS_KEY: creds.secretAccessKey,
      };
      return resolveSecrets({
        config: cfg,
        baseDir: makeTempDir('secrets-aws'),
        env: { GOD_SECRET_FROM_ENV: 'a', GOD_SECRET_FROM_FILE: 'b' },
        clients: awsClients(),
      });
    }

    it('ssm: (SecureString, decrypted) and secretsmanager: give their values', async () => {
      const got = await resolveAs(allowed);
      expect(got.map((s) => [s.name, s.source, s.value])).toEqual([
        ['from_env', 'env', 'a'],
        ['from_file', 'env', 'b'],
        ['from_ssm', 'ssm', 'ssm-planted'],
        ['from_sm', 'secretsmanager', 'sm-planted'],
      ]);
    });

    it('a missing parameter / secret names the secret and how to create it', async () => {
      const missing = (from: string) =>
        GodConfigSchema.parse({ secrets: { gone: { env: 'FG_GONE', from } } });
      const e1 = await codeOf(resolveAs(allowed, missing('ssm:/filmgrain/test/nope')));
      expect([e1.code, e1.message]).toEqual([
        'GOD_SECRET_NOT_FOUND',
        'secret gone: SSM parameter /filmgrain/test/nope does not exist (ParameterNotFound)',
      ]);
      expect(e1.hint).toMatch(/aws ssm put-parameter --name \/filmgrain\/test\/nope --type SecureString/);
      const e2 = await codeOf(resolveAs(allowed, missing('secretsmanager:nope')));
      expect([e2.code, e2.message]).toEqual([
        'GOD_SECRET_NOT_FOUND',
        'secret gone: Secrets Manager secret nope does not exist (ResourceNotFoundException)',
      ]);
    });

    it('access denied (an IAM user without a policy) names the secret and the permission, never a value', async () => {
      const e = await codeOf(resolveAs(denied));
      expect(e.code, e.message).toBe('GOD_SECRET_DENIED');
      expect(e.message).toMatch(
        /^secret from_ssm: access to SSM parameter \/filmgrain\/test\/c was denied \((AccessDenied\w*|HTTP 403)\)$/,
      );
      expect(e.hint).toMatch(/ssm:GetParameter/);
      expect(`${e.message} ${e.hint}`).not.toMatch(/planted/);
    });
  },
);
