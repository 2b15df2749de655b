// `god secrets list|set|push`: thin over god/core/secrets (where values come from) and the deploy (how they
// reach the hosts). No value is ever printed, and `set` reads it from stdin, never from argv.
import { UserError } from '../../../kernel/errors.ts';
import { deploy } from '../../core/deploy/deploy.ts';
import {
  describeSecrets,
  rolesUsingSecrets,
  SECRET_NAME,
  type SecretInfo,
  writeSecret,
} from '../../core/secrets/index.ts';
import type { CliContext } from '../context.ts';
import { table } from '../output.ts';
import { defineCommand } from '../spec.ts';
import { COMMON_OPTIONS, ROLLOUT_OPTIONS, remoteRunOptions, renderDeploy } from './deploy.ts';

export function secretsContext(ctx: CliContext) {
  return { config: ctx.loaded.config, baseDir: ctx.loaded.baseDir, env: ctx.env };
}

function renderList(ctx: CliContext, r: { secrets: SecretInfo[] }): string[] {
  const s = ctx.out.style.bind(ctx.out);
  if (r.secrets.length === 0) return [s('no secrets in the config (secrets: in god.config.yaml)', 'gray')];
  return table(
    r.secrets.map((x) => [
      x.name,
      x.env,
      x.roles.join(','),
      x.source === 'missing' ? s('missing', 'red', 'bold') : x.source,
      x.ref || '-',
    ]),
    ['NAME', 'VARIABLE', 'ROLES', 'SOURCE', 'FROM'].map((h) => s(h, 'bold')),
  );
}

export const secretsListCommand = defineCommand({
  async run(ctx) {
    const secrets = describeSecrets(secretsContext(ctx));
    ctx.out.result('secrets list', { secrets }, (d) => renderList(ctx, d));
    return 0;
  },
});

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export const secretsSetCommand = defineCommand({
  async run(ctx, [name]) {
    const secrets = ctx.loaded.config.secrets ?? {};
    if (!name || !SECRET_NAME.test(name) || !Object.hasOwn(secrets, name)) {
      throw new UserError(`${JSON.stringify(name ?? '')} is not a secret of the config`, {
        code: 'GOD_USAGE',
        hint: `Name one of: ${Object.keys(secrets).join(', ') || '(none: add it under secrets: in god.config.yaml first)'}.`,
      });
    }
    if (process.stdin.isTTY) process.stderr.write(`value of ${name}, then Enter and Ctrl-D:\n`);
    // one trailing newline is the terminal's or echo's, not the secret's
    const value = (await readStdin()).replace(/\r?\n$/, '');
    if (!value) {
      throw new UserError(`no value for ${name} on stdin`, {
        code: 'GOD_USAGE',
        hint: `Pipe it in: \`pass show fleet/${name} | god secrets set ${name}\` (never as an argument: ps shows those).`,
      });
    }
    const r = writeSecret(ctx.loaded.baseDir, name, value);
    ctx.out.result('secrets set', { name, file: r.file, created: r.created }, (d) => [
      `${d.name} set in ${d.file}${d.created ? ' (created 0600, added to .gitignore)' : ''}`,
    ]);
    return 0;
  },
});

export const secretsPushCommand = defineCommand({
  options: {
    ...ROLLOUT_OPTIONS,
    ...COMMON_OPTIONS,
  },
  async run(ctx, _args, opts) {
    const used = rolesUsingSecrets(describeSecrets(secretsContext(ctx)));
    if (used.length === 0) {
      throw new UserError('the config has no secrets to push', {
        code: 'GOD_USAGE',
        hint: 'Add them under secrets: in god.config.yaml (README "Secrets").',
      });
    }
    const base = await remoteRunOptions(ctx, opts, 'secrets push');
    const roles = base.roles ? base.roles.filter((r) => used.includes(r)) : used;
    // a deploy of the roles that use secrets: only processes whose secrets changed restart (their spec's
    // secrets_sha), rolling by batches and health-checked, as any deploy
    const r = await deploy({
      ...base,
      roles,
      bundleDir: opts.bundleDir,
      batch: opts.batch,
      keep: opts.keep,
      signal: ctx.signal,
    });
    ctx.out.result('secrets push', r, (d) => renderDeploy(ctx, d), r.ok);
    return r.ok ? 0 : 1;
  },
});
