// What a `god` command is. Kept free of zod and of the services: main.ts and registry.ts load it on every
// start, before they know which command runs. A command's flags are option specs (kernel/options.ts), the
// roles' kind: each flag's type, default, env var and help come from its one entry, and run() gets the values
// typed and defaulted.
import { defineOptions, type OptionsSpec, type OptionValues } from '../../kernel/options.ts';
import type { CliContext } from './context.ts';

/** A command's module: its flags and what it does. Loaded only when that command runs or shows its help. */
export interface CommandSpec<S extends OptionsSpec = OptionsSpec> {
  /** keyed by the flag's attribute name (`--dry-run` is `dryRun`, `--no-wait` is `wait`); env vars GOD_* */
  options?: S;
  /** exit code (default 0) */
  run(ctx: CliContext, args: string[], opts: OptionValues<S>): Promise<number | undefined>;
}

/** A command whose run() sees its own options' types. */
export const defineCommand = <const S extends OptionsSpec = Record<never, never>>(
  spec: CommandSpec<S>,
): CommandSpec<S> => spec;

/** A registry line: enough for `god --help`, and how to load the rest. */
export interface CommandEntry {
  /** 'status', or 'endpoints shed' for a subcommand of `endpoints` */
  name: string;
  /** one line, shown in `god --help` and `god COMMAND --help` */
  summary: string;
  /** commander argument syntax, e.g. '[role]' or '<id> <clients>' */
  args?: string[];
  hidden?: boolean;
  load: () => Promise<CommandSpec>;
}

/** Flags every command takes (plain text and booleans: no zod at start-up). */
export const GLOBAL_OPTIONS = defineOptions({
  config: {
    flag: '-c, --config <file>',
    env: 'GOD_CONFIG',
    description: 'config file (default: ./god.config.yaml, else built-in local defaults)',
  },
  json: {
    flag: '--json',
    env: 'GOD_JSON',
    description: 'print NDJSON: events as they happen, then one result line',
    default: false,
  },
  stateDir: {
    flag: '--state-dir <dir>',
    env: 'GOD_STATE_DIR',
    description: 'local fleet state folder (default: .god/local)',
  },
  dist: {
    flag: '--dist',
    env: 'GOD_DIST',
    description: 'local fleet: run dist/roles bundles instead of the sources',
    default: false,
  },
  redis: {
    flag: '--redis <url>',
    env: 'GOD_REDIS_URL',
    description:
      "the fleet's Redis (default: from the fleet or the config); with a password use GOD_REDIS_URL instead: a flag is visible in ps",
    secret: true,
  },
});
export type GlobalOptions = OptionValues<typeof GLOBAL_OPTIONS>;

/** `--yes` of the commands that ask before they destroy (down, rollback, lock release): confirm.ts. */
export const YES_OPTIONS = defineOptions({
  yes: {
    flag: '-y, --yes',
    env: 'GOD_YES',
    description: 'do not ask for confirmation (needed when there is no terminal to ask on)',
    default: false,
  },
});
