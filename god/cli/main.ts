// The `god` command line (bin/god.mjs runs this): commander built from the registry; every flag is an option
// spec (kernel/options.ts) and also reads its GOD_* environment variable; errors end as "what went wrong / what to do next", or an NDJSON error line.
// Start-up loads only commander and the registry's lines: the chosen command's module (with its flags) is
// imported when commander dispatches to it, the context and the output when it runs.
import fs from 'node:fs';
import { Command, CommanderError, Help, Option } from 'commander';
import { exitCodeOf, UserError } from '../../kernel/errors.ts';
import {
  addOptions,
  type OptionProblem,
  type OptionsSpec,
  type OptionValues,
  readBool,
  readOptionEnv,
  resolveOptions,
} from '../../kernel/options.ts';
import type { CliContext } from './context.ts';
import type { Output, Writer } from './output.ts';
import { auditedAction } from '../core/audit-actions.ts';
import { commands } from './registry.ts';
import { type CommandEntry, type CommandSpec, GLOBAL_OPTIONS, type GlobalOptions } from './spec.ts';

export interface CliIo {
  stdout?: Writer & { isTTY?: boolean };
  stderr?: Writer & { isTTY?: boolean };
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** install SIGINT/SIGTERM handlers (the binary does; in-process callers do not) */
  signals?: boolean;
}

/**
 * A command's problem names what the user typed: the flag and its value (`--timeout soon is not a duration`),
 * or the env var when the value came from there.
 */
function problemLine(problem: OptionProblem): string {
  const fromEnv = problem.source === 'env';
  const name = fromEnv ? problem.env : problem.flag;
  if (problem.shown === undefined) return `${name} ${problem.message}`;
  const quoted = JSON.stringify(problem.shown);
  // a message that starts with the value ("\"soon\" is not a duration") reads on from it
  if (problem.message.startsWith(quoted)) {
    return `${name}${fromEnv ? '=' : ' '}${problem.shown}${problem.message.slice(quoted.length)}`;
  }
  return `${name} ${problem.message} (got ${quoted})`;
}

/** Flags win over env vars, env vars over defaults; each value checked by its option's schema. */
function optionValues<S extends OptionsSpec>(cmd: Command, spec: S, env: NodeJS.ProcessEnv, name?: string) {
  readOptionEnv(cmd, spec, env);
  const { values, problems } = resolveOptions(spec, cmd.opts(), (key) => cmd.getOptionValueSource(key));
  if (problems.length) {
    const lines = problems.map(problemLine);
    throw new UserError(lines.length === 1 ? lines[0]! : `invalid options:\n  - ${lines.join('\n  - ')}`, {
      code: 'GOD_USAGE',
      hint: `Fix the flag or environment variable named above; \`god ${name ? `${name} ` : ''}--help\` lists every flag with its variable.`,
    });
  }
  return values;
}

/**
 * The words before a command's own flags, global options (and their values) skipped: `god -c x.yaml help
 * status` → ['help', 'status']. Only its start is used (`--version`, `help COMMAND`); commander does the parsing.
 */
function leadingOperands(argv: string[]): string[] {
  const withValue = new Set(
    Object.values(GLOBAL_OPTIONS)
      .filter((global) => global.flag.includes('<'))
      .flatMap((global) => {
        const option = new Option(global.flag);
        return [option.short, option.long].filter((flag): flag is string => !!flag);
      }),
  );
  const words: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') break;
    if (a.startsWith('-')) {
      if (words.length) break;
      if (withValue.has(a)) i++;
      continue;
    }
    words.push(a);
  }
  return words;
}

function godVersion(): string {
  const pkg = JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
  return String(pkg.version);
}

export function buildProgram(
  entries: CommandEntry[],
  io: Required<Pick<CliIo, 'env'>> & CliIo,
  onRun: (
    spec: CommandSpec,
    args: string[],
    opts: OptionValues<OptionsSpec>,
    globals: GlobalOptions,
    name: string,
  ) => Promise<void>,
): { program: Command; load: (name: string) => Promise<void> } {
  const program = new Command('god')
    .description("God, Filmgrain's operator tool: run, deploy, watch and scale the fleet")
    .exitOverride()
    .showHelpAfterError(false)
    .configureOutput({
      writeOut: (s) => io.stdout?.write(s),
      writeErr: () => {}, // errors are printed by our own handler
    })
    .configureHelp({
      // `--version` is handled before commander (it must not swallow `god deploy --version r1`); listed here
      visibleOptions(cmd) {
        const shown = Help.prototype.visibleOptions.call(this, cmd);
        if (cmd.parent) return shown;
        return [
          ...shown.slice(0, -1),
          new Option('-V, --version', "print god's version"),
          ...shown.slice(-1),
        ];
      },
    });
  addOptions(program, GLOBAL_OPTIONS);
  const byName = new Map<string, Command>();
  const entryOf = new Map<Command, CommandEntry>();
  const loaded = new Map<Command, CommandSpec>();
  /** import a command's module and add its flags (before commander parses them) */
  const loadCommand = async (cmd: Command): Promise<CommandSpec | undefined> => {
    const entry = entryOf.get(cmd);
    if (!entry || loaded.has(cmd)) return loaded.get(cmd);
    const spec = await entry.load();
    addOptions(cmd, spec.options ?? {});
    loaded.set(cmd, spec);
    return spec;
  };
  program.hook('preSubcommand', () => readOptionEnv(program, GLOBAL_OPTIONS, io.env));
  program.hook('preAction', () => readOptionEnv(program, GLOBAL_OPTIONS, io.env));
  program.hook('preSubcommand', async (_parent, sub) => void (await loadCommand(sub)));
  const ordered = [...entries].sort((a, b) => a.name.split(' ').length - b.name.split(' ').length);
  for (const entry of ordered) {
    const words = entry.name.split(' ');
    const parent = words.length > 1 ? byName.get(words.slice(0, -1).join(' ')) : program;
    if (!parent) throw new Error(`command "${entry.name}" has no parent command registered`);
    const cmd = parent.command(words[words.length - 1]!, { hidden: entry.hidden }).description(entry.summary);
    cmd.exitOverride().configureOutput({ writeOut: (s) => io.stdout?.write(s), writeErr: () => {} });
    for (const a of entry.args ?? []) cmd.argument(a);
    // a command's own subcommands (`endpoints shed`) load the same way
    cmd.hook('preSubcommand', async (_parent, sub) => void (await loadCommand(sub)));
    cmd.action(async (...a: unknown[]) => {
      const self = a[a.length - 1] as Command;
      const spec = (await loadCommand(self))!;
      const opts = optionValues(self, spec.options ?? {}, io.env, entry.name);
      const args = a.slice(0, self.registeredArguments.length).filter((x) => x !== undefined) as string[];
      const globals: GlobalOptions = optionValues(program, GLOBAL_OPTIONS, io.env);
      await onRun(spec, args.flat(), opts, globals, entry.name);
    });
    byName.set(entry.name, cmd);
    entryOf.set(cmd, entry);
  }
  const load = async (name: string) => {
    const cmd = byName.get(name);
    if (cmd) await loadCommand(cmd);
  };
  return { program, load };
}

/** Whether argv (not the environment) holds a Redis URL with credentials. */
function redisFlagHasPassword(argv: string[]): boolean {
  const i = argv.findIndex((a) => a === '--redis' || a.startsWith('--redis='));
  if (i < 0) return false;
  const v = argv[i]!.startsWith('--redis=') ? argv[i]!.slice(8) : (argv[i + 1] ?? '');
  return /:\/\/[^/?#]*@|[?&]password=/i.test(v) || (v.includes('@') && v.includes('://'));
}

/** A run that ended before changing anything: a usage or config problem, or the operator said no. */
function unchanged(err: unknown): boolean {
  if (!(err instanceof UserError)) return false;
  return exitCodeOf(err) === 2 || err.code === 'GOD_CANCELLED' || err.code === 'GOD_LOCK_NONE';
}

/** Run god with `argv` (without node and script). Resolves with the exit code. */
export async function runCli(argv: string[], io: CliIo = {}): Promise<number> {
  const env = io.env ?? process.env;
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  let out: Output | undefined;
  let ctx: CliContext | undefined;
  let code = 0;
  const { program, load } = buildProgram(
    commands,
    { ...io, env, stdout, stderr },
    async (spec, args, opts, globals, name) => {
      const [{ Output, wantColor }, { CliContext }] = await Promise.all([
        import('./output.ts'),
        import('./context.ts'),
      ]);
      out = new Output({
        json: globals.json,
        color: wantColor(globals.json ? stdout : stderr, env),
        stdout,
        stderr,
      });
      ctx = new CliContext(globals, out, env, io.cwd ?? process.cwd());
      if (globals.redis && redisFlagHasPassword(argv)) {
        out.event({
          type: 'warn',
          message: '--redis carries a password: every local user can read it in ps and /proc/<pid>/cmdline',
          hint: 'Pass the URL in the environment instead: GOD_REDIS_URL=redis://:PASSWORD@host:6379 (or redis.url in the config file).',
        });
      }
      let onSignal: (() => void) | undefined;
      if (io.signals) {
        let n = 0;
        onSignal = () => {
          if (++n > 1) process.exit(130);
          ctx?.cancel();
        };
        process.on('SIGINT', onSignal);
        process.on('SIGTERM', onSignal);
      }
      // a change (god/core/audit-actions.ts) is recorded once it ended, before its result line
      const action = auditedAction(name);
      const audited = !!action && !(action.dryRun && opts[action.dryRun] === true);
      if (audited) out.holdResults();
      const startedAt = Date.now();
      let failure: { error: unknown } | undefined;
      try {
        code = (await spec.run(ctx, args, opts)) ?? 0;
      } catch (err) {
        failure = { error: err };
        throw err;
      } finally {
        // exit 2 without a throw (e.g. `play` printing a refused playbook's problems itself) changed nothing either
        if (audited && !unchanged(failure?.error) && !(failure === undefined && code === 2)) {
          const { auditCommand } = await import('./audit-command.ts');
          await auditCommand(ctx, { name, spec, args, opts, globals, startedAt, failure, exit: code });
        }
        out.releaseResults();
        if (onSignal) {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
        }
        await ctx.close();
      }
    },
  );
  /** before the command's own output exists (usage errors): --json and its env var are read from argv */
  const output = async (): Promise<Output> => {
    if (out) return out;
    const { Output, wantColor } = await import('./output.ts');
    const json = argv.includes('--json') || (env.GOD_JSON !== undefined && readBool(env.GOD_JSON));
    return new Output({ json, color: wantColor(stderr, env), stdout, stderr });
  };
  if (argv.length === 0) {
    // no command on a terminal: the dashboard, when this build registers one (issue 7); else the help
    if (stdout.isTTY && !env.CI && commands.some((c) => c.name === 'dashboard')) argv = ['dashboard'];
    else {
      program.outputHelp();
      return 0;
    }
  }
  const [first, second] = leadingOperands(argv);
  if (first === undefined && (argv.includes('--version') || argv.includes('-V'))) {
    stdout.write(`${godVersion()}\n`);
    return 0;
  }
  // `god help COMMAND` prints the help without dispatching to the command: load its flags first
  if (first === 'help' && second) await load(second);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (
        err.code === 'commander.helpDisplayed' ||
        err.code === 'commander.version' ||
        err.code === 'commander.help'
      ) {
        return 0;
      }
      const usage = new UserError(err.message.replace(/^error: /, ''), { code: 'GOD_USAGE' });
      (await output()).error(usage);
      return exitCodeOf(usage);
    }
    (await output()).error(err);
    return exitCodeOf(err);
  }
}

// run as the binary
if (process.argv[1] && /god(\.mjs)?$|cli[/\\]main\.ts$/.test(process.argv[1])) {
  runCli(process.argv.slice(2), { signals: true }).then(
    (code) => {
      process.exitCode = code;
      // a forgotten handle must not keep a finished command alive
      setTimeout(() => process.exit(code), 2000).unref();
    },
    (err) => {
      process.stderr.write(`god: ${(err as Error)?.stack ?? String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
