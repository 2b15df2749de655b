// The command line's shape: `god --help` lists every registered command, `god COMMAND --help` and `god help
// COMMAND` show that command's flags (its module loaded on demand), `god --version` prints the version, and
// a plain `god --help` loads none of the heavy command modules (ssh2, ioredis, React) nor zod.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { buildProgram } from '../../god/cli/main.ts';
import { commands } from '../../god/cli/registry.ts';
import { type CommandEntry, defineCommand } from '../../god/cli/spec.ts';
import { intFrom } from '../../kernel/flags.ts';
import { durationMs } from '../../kernel/units.ts';
import { godIn } from './cli-helpers.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const cwd = ROOT;

/** runs a role's entry point with ARGS in a fresh node */
function roleRun(role: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', path.join(ROOT, 'roles', role, 'main.ts'), ...args],
      { cwd: ROOT, env: { ...process.env, CI: '1' }, timeout: 30_000 },
      (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)),
    );
  });
}

/** how often each `[env: NAME]` / `env: NAME` mention appears in a help text */
function envMentions(help: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const m of help.replace(/\s+/g, ' ').matchAll(/env: ([A-Z][A-Z0-9_]*)/g))
    counts.set(m[1]!, (counts.get(m[1]!) ?? 0) + 1);
  return counts;
}

/** runs `god ARGS` in a fresh node and reports which of these packages it loaded */
function loadedBy(args: string[]): Promise<Record<string, boolean>> {
  const probe = `
    import { createRequire } from 'node:module';
    const { runCli } = await import(${JSON.stringify(path.join(ROOT, 'god/cli/main.ts'))});
    await runCli(${JSON.stringify(args)}, { stdout: { write: () => true }, stderr: { write: () => true } });
    const cached = Object.keys(createRequire(import.meta.url).cache);
    const has = (n) => cached.some((k) => k.includes('/node_modules/' + n + '/'));
    console.log(JSON.stringify({ ssh2: has('ssh2'), ioredis: has('ioredis'), react: has('react'), zod: has('zod') }));`;
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
    // the global flags are option specs without schemas: zod waits for a command's module too
    expect(await loadedBy(['--help'])).toEqual({ ssh2: false, ioredis: false, react: false, zod: false });
    // the probe sees a module when it is loaded: deploy's needs ssh2
    expect((await loadedBy(['deploy', '--help'])).ssh2).toBe(true);
  });
});

describe('command options from one spec', () => {
  // a command declared like the real ones: its run() sees typed values
  const probe = defineCommand({
    options: {
      count: {
        flag: '-n, --count <n>',
        env: 'GOD_PROBE_COUNT',
        description: 'n',
        schema: intFrom(1),
        default: '3',
      },
      timeout: {
        flag: '--timeout <duration>',
        env: 'GOD_PROBE_TIMEOUT',
        description: 't',
        schema: durationMs.optional(),
      },
      label: { flag: '--label <text>', env: 'GOD_PROBE_LABEL', description: 'l' },
      wait: { flag: '--no-wait', env: 'GOD_PROBE_WAIT', description: 'w' },
      loud: { flag: '--loud', env: 'GOD_PROBE_LOUD', description: 'b' },
    },
    async run(_ctx, _args, opts) {
      expectTypeOf(opts.count).toEqualTypeOf<number>();
      expectTypeOf(opts.timeout).toEqualTypeOf<number | undefined>();
      expectTypeOf(opts.label).toEqualTypeOf<string | undefined>();
      expectTypeOf(opts.wait).toEqualTypeOf<boolean>();
      return 0;
    },
  });
  const entry: CommandEntry = { name: 'probe', summary: 'probe', load: async () => probe };

  async function optsOf(argv: string[], env: NodeJS.ProcessEnv) {
    const seen: Array<Record<string, unknown>> = [];
    const { program } = buildProgram(
      [entry],
      { env, stdout: { write: () => true } },
      async (_s, _a, opts, g) => {
        seen.push({ ...opts, json: g.json });
      },
    );
    program.exitOverride();
    await program.parseAsync(argv, { from: 'user' });
    return seen[0]!;
  }

  it('gives run() defaulted, parsed values; env vars over defaults, flags over env vars', async () => {
    expect(await optsOf(['probe'], {})).toEqual({
      count: 3,
      timeout: undefined,
      label: undefined,
      wait: true,
      loud: false,
      json: false,
    });
    const env = {
      GOD_PROBE_COUNT: '7',
      GOD_PROBE_TIMEOUT: '2m',
      GOD_PROBE_LABEL: 'from-env',
      GOD_PROBE_WAIT: '0',
      GOD_PROBE_LOUD: 'yes',
      GOD_JSON: 'off',
    };
    expect(await optsOf(['probe'], env)).toEqual({
      count: 7,
      timeout: 120_000,
      label: 'from-env',
      wait: false,
      loud: true,
      json: false,
    });
    expect(
      await optsOf(['--json', 'probe', '-n', '9', '--timeout', '1s', '--label', 'flag'], env),
    ).toMatchObject({
      count: 9,
      timeout: 1000,
      label: 'flag',
      json: true,
    });
  });

  it('refuses a bad value naming where it came from', async () => {
    await expect(optsOf(['probe', '-n', '0'], {})).rejects.toThrow(
      /--count must be a whole number ≥ 1 \(got "0"\)/,
    );
    await expect(optsOf(['probe'], { GOD_PROBE_TIMEOUT: 'soon' })).rejects.toThrow(
      /GOD_PROBE_TIMEOUT=soon is not a duration/,
    );
  });

  it("prints each env var once in a command's and a role's --help", async () => {
    for (const argv of [['--help'], ['demo', '--help'], ['deploy', '--help'], ['up', '--help']]) {
      const r = await godIn(argv, { cwd });
      const counts = envMentions(r.stdout);
      expect(counts.size, argv.join(' ')).toBeGreaterThan(0);
      for (const [name, n] of counts) expect(n, `${argv.join(' ')}: ${name}`).toBe(1);
    }
    const help = await roleRun('endpoint', ['--help']);
    const counts = envMentions(help);
    expect(counts.get('FG_REDIS_URL')).toBe(1);
    expect(counts.get('FG_ENDPOINT_PORT')).toBe(1);
    for (const [name, n] of counts) expect(n, `endpoint --help: ${name}`).toBe(1);
  });
});
