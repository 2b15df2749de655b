// The command line's shape: `god --help` lists every registered command, `god COMMAND --help` and `god help
// COMMAND` show that command's flags (its module loaded on demand), `god --version` prints the version, and
// a plain `god --help` loads none of the heavy command modules (ssh2, ioredis, React).
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { commands } from '../../god/cli/registry.ts';
import { godIn } from './cli-helpers.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const cwd = ROOT;

/** runs `god ARGS` in a fresh node and reports which of these packages it loaded */
function loadedBy(args: string[]): Promise<Record<string, boolean>> {
  const probe = `
    import { createRequire } from 'node:module';
    const { runCli } = await import(${JSON.stringify(path.join(ROOT, 'god/cli/main.ts'))});
    await runCli(${JSON.stringify(args)}, { stdout: { write: () => true }, stderr: { write: () => true } });
    const cached = Object.keys(createRequire(import.meta.url).cache);
    const has = (n) => cached.some((k) => k.includes('/node_modules/' + n + '/'));
    console.log(JSON.stringify({ ssh2: has('ssh2'), ioredis: has('ioredis'), react: has('react') }));`;
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', probe],
      { cwd: ROOT, env: { ...process.env, CI: '1' }, timeout: 30_000 },
      (err, stdout, stderr) =>
        err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(JSON.parse(stdout)),
    );
  });
}

describe('god --help / --version', () => {
  it('lists every visible command with its summary', async () => {
    const r = await godIn(['--help'], { cwd });
    expect(r.code).toBe(0);
    const flat = r.stdout.replace(/\s+/g, ' ');
    for (const c of commands.filter((x) => !x.hidden && !x.name.includes(' '))) {
      expect(flat).toContain(` ${c.name}`);
      expect(flat).toContain(c.summary);
    }
    expect(flat).not.toContain('supervise');
    expect(flat).toContain('--version');
  });

  it("shows a command's own flags with `god COMMAND --help` and `god help COMMAND`", async () => {
    for (const argv of [
      ['up', '--help'],
      ['help', 'up'],
      ['--state-dir', '.god/x', 'help', 'up'],
    ]) {
      const r = await godIn(argv, { cwd });
      expect(r.code, argv.join(' ')).toBe(0);
      expect(r.stdout, argv.join(' ')).toMatch(/Usage: god up \[options\] \[role\]/);
      expect(r.stdout).toContain('--count <n>');
      expect(r.stdout).toContain('GOD_TIMEOUT');
    }
    const shed = await godIn(['endpoints', 'shed', '--help'], { cwd });
    expect(shed.stdout).toMatch(/Usage: god endpoints shed \[options\] <id> <clients>/);
  });

  it('prints the package version, and leaves a command its own --version flag', async () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
    const r = await godIn(['--version'], { cwd });
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(pkg.version);
    const d = await godIn(['deploy', '--help'], { cwd });
    expect(d.stdout).toContain('--version <version>');
  });

  it('still refuses unknown flags of a lazily loaded command', async () => {
    const r = await godIn(['status', '--bogus'], { cwd });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown option '--bogus'");
  });

  it("loads only the chosen command's module", async () => {
    expect(await loadedBy(['--help'])).toEqual({ ssh2: false, ioredis: false, react: false });
    // the probe sees a module when it is loaded: deploy's needs ssh2
    expect((await loadedBy(['deploy', '--help'])).ssh2).toBe(true);
  });
});
