// Issue 12 item 19: a YAML file that is too large or too deeply aliased is bad input (UserError naming
// the file and the limit), not "a bug in God".
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig, YAML_MAX_ALIAS_COUNT, YAML_MAX_BYTES } from '../../god/core/config/load.ts';
import { loadPlaybook } from '../../god/core/playbook/load.ts';
import { UserError } from '../../roles/runtime/errors.ts';
import { cleanupAll, makeTempDir } from '../harness/index.ts';

afterAll(cleanupAll);

// Nine levels of nine-fold aliases: 9^9 strings if expanded.
function billionLaughs(): string {
  const lines = ['l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (let i = 1; i < 9; i++)
    lines.push(
      `l${i}: &l${i} [${Array(9)
        .fill(`*l${i - 1}`)
        .join(',')}]`,
    );
  return `${lines.join('\n')}\n`;
}

// Valid YAML (a comment line repeated) just over the size limit.
function oversize(): string {
  const line = `# ${'x'.repeat(98)}\n`;
  return line.repeat(Math.ceil((YAML_MAX_BYTES + 1) / line.length));
}

function caught(fn: () => unknown): UserError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(UserError);
    return err as UserError;
  }
  throw new Error('expected the loader to throw');
}

describe('YAML limits are user errors', () => {
  const dir = makeTempDir('yaml-limits');
  const write = (name: string, text: string) => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, text);
    return f;
  };

  it('config: an alias bomb names the file and the alias limit', () => {
    const f = write('bomb.config.yaml', billionLaughs());
    const e = caught(() => loadConfig(f, dir));
    expect(e.code).toBe('GOD_CONFIG');
    expect(e.message).toContain(path.basename(f));
    expect(e.message).toContain(`limit of ${YAML_MAX_ALIAS_COUNT} alias`);
    expect(e.hint).toMatch(/aliases/);
  });

  it('config: an oversize file names the file and the size limit', () => {
    const f = write('big.config.yaml', oversize());
    const e = caught(() => loadConfig(f, dir));
    expect(e.code).toBe('GOD_CONFIG');
    expect(e.message).toContain(path.basename(f));
    expect(e.message).toContain(`limit of ${YAML_MAX_BYTES} bytes`);
    expect(e.hint).toBeTruthy();
  });

  it('playbook: an alias bomb names the file and the alias limit', () => {
    write('bomb.yaml', billionLaughs());
    const e = caught(() => loadPlaybook('bomb.yaml', {}, dir));
    expect(e.code).toBe('GOD_USAGE');
    expect(e.message).toContain('bomb.yaml');
    expect(e.message).toContain(`limit of ${YAML_MAX_ALIAS_COUNT} alias`);
    expect(e.hint).toMatch(/aliases/);
  });

  it('playbook: an oversize file names the file and the size limit', () => {
    write('big.yaml', oversize());
    const e = caught(() => loadPlaybook('big.yaml', {}, dir));
    expect(e.code).toBe('GOD_USAGE');
    expect(e.message).toContain('big.yaml');
    expect(e.message).toContain(`limit of ${YAML_MAX_BYTES} bytes`);
    expect(e.hint).toBeTruthy();
  });

  it('a file with a few ordinary aliases still loads', () => {
    const f = write(
      'ok.config.yaml',
      'roles:\n  endpoint:\n    options:\n      max_clients: &m 100\n      soft_limit: *m\n',
    );
    const { config } = loadConfig(f, dir);
    expect(config.roles.endpoint.options).toMatchObject({ max_clients: 100, soft_limit: 100 });
  });
});
