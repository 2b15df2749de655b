// The `god` command line (bin/god.mjs runs this): commander built from the registry; every flag also reads its
// GOD_* environment variable; errors end as "what went wrong / what to do next", or an NDJSON error line.
import { Command, CommanderError, Option } from 'commander';
import { boolFlag } from '../../roles/runtime/config.ts';
import { UserError } from '../../roles/runtime/errors.ts';
import {
  CliContext,
  type CommandSpec,
  GLOBAL_OPTIONS,
  type GlobalOptions,
  type OptionDef,
} from './context.ts';
import { Output, type Writer, wantColor } from './output.ts';
import { commands } from './registry.ts';

export interface CliIo {
  stdout?: Writer & { isTTY?: boolean };
  stderr?: Writer & { isTTY?: boolean };
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** install SIGINT/SIGTERM handlers (the binary does; in-process callers do not) */
  signals?: boolean;
}

const USAGE_CODES = new Set(['GOD_USAGE', 'GOD_CONFIG']);

function addOption(cmd: Command, def: OptionDef): void {
  const opt = new Option(def.flags, `${def.description} [env: ${def.env}]`);
  if (def.default !== undefined) opt.default(def.default);
  cmd.addOption(opt);
}

/** Flags win over env vars, env vars over defaults. Booleans read 1/true/yes/on and 0/false/no/off. */
function applyEnv(cmd: Command, defs: OptionDef[], env: NodeJS.ProcessEnv): void {
  for (const def of defs) {
    const opt = new Option(def.flags);
    const key = opt.attributeName();
    const raw = env[def.env];
    if (raw === undefined || cmd.getOptionValueSource(key) === 'cli') continue;
    let value: unknown = raw;
    if (opt.isBoolean()) {
      // --no-wait's env var GOD_WAIT=0 means "do not wait": the value is the attribute's, negated or not
      value = boolFlag.parse(raw);
    }
    cmd.setOptionValueWithSource(key, value, 'env');
  }
}

function globalsOf(program: Command): GlobalOptions {
  const o = program.opts();
  return {
    config: o.config as string | undefined,
    json: !!o.json,
    stateDir: o.stateDir as string | undefined,
    dist: !!o.dist,
    redis: o.redis as string | undefined,
  };
}

export function buildProgram(
  specs: CommandSpec[],
  io: Required<Pick<CliIo, 'env'>> & CliIo,
  onRun: (
    spec: CommandSpec,
    args: string[],
    opts: Record<string, unknown>,
    globals: GlobalOptions,
  ) => Promise<void>,
): Command {
  const program = new Command('god')
    .description("God, Filmgrain's operator tool: run, deploy, watch and scale the fleet")
    .exitOverride()
    .showHelpAfterError(false)
    .configureOutput({
      writeOut: (s) => io.stdout?.write(s),
      writeErr: () => {}, // errors are printed by our own handler
    });
  for (const def of GLOBAL_OPTIONS) addOption(program, def);
  const byName = new Map<string, Command>();
  const ordered = [...specs].sort((a, b) => a.name.split(' ').length - b.name.split(' ').length);
  for (const spec of ordered) {
    const words = spec.name.split(' ');
    const parent = words.length > 1 ? byName.get(words.slice(0, -1).join(' ')) : program;
    if (!parent) throw new Error(`command "${spec.name}" has no parent command registered`);
    const cmd = parent
      .command(words[words.length - 1]!, { hidden: spec.hidden })
      .description(spec.description);
    cmd.exitOverride().configureOutput({ writeOut: (s) => io.stdout?.write(s), writeErr: () => {} });
    for (const a of spec.args ?? []) cmd.argument(a);
    for (const def of spec.options ?? []) addOption(cmd, def);
    cmd.action(async (...a: unknown[]) => {
      const self = a[a.length - 1] as Command;
      applyEnv(self, spec.options ?? [], io.env);
      const args = a.slice(0, self.registeredArguments.length).filter((x) => x !== undefined) as string[];
      await onRun(spec, args.flat(), self.opts(), globalsOf(program));
    });
    byName.set(spec.name, cmd);
  }
  program.hook('preSubcommand', () => applyEnv(program, GLOBAL_OPTIONS, io.env));
  program.hook('preAction', () => applyEnv(program, GLOBAL_OPTIONS, io.env));
  return program;
}

/** Run god with `argv` (without node and script). Resolves with the exit code. */
export async function runCli(argv: string[], io: CliIo = {}): Promise<number> {
  const env = io.env ?? process.env;
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  // --json and the env var are known before commander runs, so parse errors come out as JSON too
  const jsonEarly = argv.includes('--json') || (env.GOD_JSON !== undefined && boolFlag.parse(env.GOD_JSON));
  let out = new Output({ json: jsonEarly, color: wantColor(stderr, env), stdout, stderr });
  let ctx: CliContext | undefined;
  let code = 0;
  const program = buildProgram(
    commands,
    { ...io, env, stdout, stderr },
    async (spec, args, opts, globals) => {
      out = new Output({
        json: globals.json,
        color: wantColor(globals.json ? stdout : stderr, env),
        stdout,
        stderr,
      });
      ctx = new CliContext(globals, out, env, io.cwd ?? process.cwd());
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
      try {
        code = (await spec.run(ctx, args, opts)) ?? 0;
      } finally {
        if (onSignal) {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
        }
        await ctx.close();
      }
    },
  );
  if (argv.length === 0) {
    // no command on a terminal: the dashboard, when this build registers one (issue 7); else the help
    if (stdout.isTTY && !env.CI && commands.some((c) => c.name === 'dashboard')) argv = ['dashboard'];
    else {
      program.outputHelp();
      return 0;
    }
  }
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
      out.error(
        new UserError(err.message.replace(/^error: /, ''), {
          code: 'GOD_USAGE',
          hint: 'Run `god --help` for the commands, `god COMMAND --help` for their flags.',
        }),
      );
      return 2;
    }
    out.error(err);
    return err instanceof UserError && USAGE_CODES.has(err.code) ? 2 : 1;
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
