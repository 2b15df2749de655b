// Where secrets come from (god/core/secrets): God's environment, then .god/secrets (refused unless 0600 in 0700,
// written by `god secrets set` from stdin and git-ignored). The AWS sources (SSM, Secrets Manager on moto) are
// tested in secrets-leak.test.ts, which shares its moto_server.
import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../kernel/errors.ts';
import { GodConfigSchema } from '../../god/core/config/schema.ts';
import { describeSecrets, resolveSecrets } from '../../god/core/secrets/index.ts';
import { runCli } from '../../god/cli/main.ts';
import { makeTempDir, skipWithout } from '../harness/index.ts';
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
    let out = '';
    const code = await runCli(['secrets', 'list', '--json'], {
      env: { ...process.env, GOD_CONFIG: path.join(dir, 'god.config.yaml') },
      cwd: dir,
      stdout: { write: (t: string) => (out += t) },
      stderr: { write: () => true },
    });
    expect(code, out).toBe(0);
    const res = JSON.parse(out.trim().split('\n').at(-1)!);
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

describe('secrets on a host: the agent writes, systemd and the supervisor read', async () => {
  // plain JS shipped to hosts (no .d.mts): imported by path, typed here
  const AGENT = path.resolve(import.meta.dirname, '../../god/core/deploy/remote/fg-agent.mjs');
  const agent = (await import(AGENT)) as {
    envFileText(env: Record<string, string>): string;
    unitText(o: Record<string, unknown>): string;
  };
  const { readEnvFile } = (await import('../../god/core/deploy/remote/fg-supervisor.mjs')) as unknown as {
    readEnvFile(file: string): Record<string, string>;
  };
  const TRICKY = 'pa"ss$wo`rd\\x y=z #not-a-comment';

  it('the supervisor reads back exactly what the agent wrote (quotes, $, `, backslash)', () => {
    const dir = makeTempDir('secrets-envfile');
    const file = path.join(dir, 'x.secrets.env');
    fs.writeFileSync(file, agent.envFileText({ FG_A: TRICKY, FG_B: '' }));
    expect(readEnvFile(file)).toEqual({ FG_A: TRICKY, FG_B: '' });
    expect(readEnvFile(path.join(dir, 'absent'))).toEqual({});
  });

  const analyze = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
  it.skipIf(skipWithout({ 'systemd-analyze': analyze.status === 0 }, 'apt-get install -y systemd'))(
    'a unit with the secrets file as a second EnvironmentFile= passes systemd-analyze verify',
    () => {
      const base = makeTempDir('secrets-unit');
      for (const d of ['current', 'run', 'state/feeder-h1'])
        fs.mkdirSync(path.join(base, d), { recursive: true });
      fs.writeFileSync(path.join(base, 'current', 'feeder.mjs'), '');
      const envFile = path.join(base, 'run', 'feeder-h1.env');
      const secretsFile = path.join(base, 'run', 'feeder-h1.secrets.env');
      fs.writeFileSync(envFile, agent.envFileText({ FG_ID: 'feeder-h1' }), { mode: 0o600 });
      fs.writeFileSync(secretsFile, agent.envFileText({ FG_A: TRICKY }), { mode: 0o600 });
      const unit = agent.unitText({
        id: 'feeder-h1',
        role: 'feeder',
        execPath: process.execPath,
        base,
        killMs: 5000,
        envFile,
        secretsFile,
        user: 'filmgrain',
        stateDir: path.join(base, 'state', 'feeder-h1'),
      });
      expect(unit).toContain(`EnvironmentFile=${envFile}\nEnvironmentFile=${secretsFile}\n`);
      expect(unit).not.toContain('pa"ss');
      const file = path.join(base, 'fg-feeder-h1.service');
      fs.writeFileSync(file, unit);
      const r = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8' });
      expect([r.status, r.stderr.trim()]).toEqual([0, '']);
    },
  );
});
