// What a `god` command is. Kept free of runtime imports: main.ts and registry.ts load it on every start,
// before they know which command runs.
import type { CliContext } from './context.ts';

export interface OptionDef {
  /** commander syntax: '-n, --count <n>', '--follow', '--no-wait' */
  flags: string;
  /** the environment variable read when the flag is absent (GOD_*) */
  env: string;
  description: string;
  default?: string | boolean;
}

/** A command's module: its flags and what it does. Loaded only when that command runs or shows its help. */
export interface CommandSpec {
  options?: OptionDef[];
  /** exit code (default 0) */
  run(ctx: CliContext, args: string[], opts: Record<string, unknown>): Promise<number | undefined>;
}

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

/** Flags every command takes. */
export interface GlobalOptions {
  config?: string;
  json: boolean;
  stateDir?: string;
  dist: boolean;
  redis?: string;
}

export const GLOBAL_OPTIONS: OptionDef[] = [
  {
    flags: '-c, --config <file>',
    env: 'GOD_CONFIG',
    description: 'config file (default: ./god.config.yaml, else built-in local defaults)',
  },
  {
    flags: '--json',
    env: 'GOD_JSON',
    description: 'print NDJSON: events as they happen, then one result line',
    default: false,
  },
  {
    flags: '--state-dir <dir>',
    env: 'GOD_STATE_DIR',
    description: 'local fleet state folder (default: .god/local)',
  },
  {
    flags: '--dist',
    env: 'GOD_DIST',
    description: 'local fleet: run dist/roles bundles instead of the sources',
    default: false,
  },
  {
    flags: '--redis <url>',
    env: 'GOD_REDIS_URL',
    description:
      "the fleet's Redis (default: from the fleet or the config); with a password use GOD_REDIS_URL instead: a flag is visible in ps",
  },
];
