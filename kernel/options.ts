// A command-line option declared once: its flag, its environment variable, its help, its default and its
// schema. The roles (roles/runtime/config.ts) and God's commands (god/cli) build their commander options, read
// the environment and validate from this one declaration. zod is only a type here: God's start-up builds its
// global flags with this file before any command (and zod) is loaded.
import { type Command, Option } from 'commander';
import type { z } from 'zod';

export interface OptionSpec<S extends z.ZodType = z.ZodType> {
  /** commander syntax: '--redis <url>', '-n, --count <n>', '--loop', '--no-wait', '--var <pair...>' */
  flag: string;
  /** read when the flag is absent (flags win over env vars, env vars over the default) */
  env: string;
  description: string;
  /** checks and converts the value (a flag's text, or the default); without one a flag taking a value gives
   * its text and a flag without one a boolean */
  schema?: S;
  /** shown in --help, and what the schema gets when neither the flag nor the env var is given */
  default?: string | boolean;
  /** never echo the value in errors or logs */
  secret?: boolean;
}
export type OptionsSpec = Record<string, OptionSpec>;

type PlainValue<O extends OptionSpec> = string extends O['flag']
  ? string | string[] | boolean | undefined // the flag's text was widened: declare the spec with defineOptions
  : O['flag'] extends `${string}...>`
    ? string[] | undefined
    : O['flag'] extends `${string}<${string}>`
      ? O extends { default: string }
        ? string
        : string | undefined
      : boolean;
/** What a command or role receives for one option: its schema's output, else text or a boolean. */
export type OptionValue<O extends OptionSpec> = O extends { schema: infer S extends z.ZodType }
  ? z.output<S>
  : PlainValue<O>;
export type OptionValues<S extends OptionsSpec> = string extends keyof S
  ? Record<string, unknown> // a spec not known statically (a registry of commands)
  : { [K in keyof S]: OptionValue<S[K]> };

/** Keeps the flags' literal types (a plain `--json` is a boolean, `--config <file>` text). */
export const defineOptions = <const S extends OptionsSpec>(spec: S): S => spec;

const FALSE_WORDS = ['0', 'false', 'no', 'off', ''];

/** How a boolean env var reads: 1/true/yes/on are true, 0/false/no/off and "" are false (any other text: true). */
export function readBool(text: string): boolean {
  return !FALSE_WORDS.includes(text.toLowerCase());
}

const takesValue = (flag: string) => /[<[]/.test(flag);

/** The option's long name, as errors name it: '--count' of '-n, --count <n>'. */
export function longFlag(option: OptionSpec): string {
  return option.flag.split(/[ ,]+/).find((word) => word.startsWith('--')) ?? option.flag.split(/[ ,]/)[0]!;
}

/** The commander option of a spec entry; its help names the env var once. */
export function commanderOption(key: string, option: OptionSpec): Option {
  const built = new Option(option.flag, `${option.description} [env: ${option.env}]`);
  if (option.default !== undefined) built.default(option.default);
  if (built.attributeName() !== key) {
    throw new Error(`option spec key "${key}" must match flag ${option.flag} (${built.attributeName()})`);
  }
  return built;
}

export function addOptions(cmd: Command, spec: OptionsSpec): void {
  for (const [key, option] of Object.entries(spec)) cmd.addOption(commanderOption(key, option));
}

/**
 * After commander parsed the flags: each env var whose flag was not given sets the option (a boolean by
 * `readBool`; for `--no-wait`, GOD_WAIT=0 means "do not wait"). Read from `env`, not process.env, so callers
 * and tests can pass their own environment.
 */
export function readOptionEnv(cmd: Command, spec: OptionsSpec, env: NodeJS.ProcessEnv): void {
  for (const [key, option] of Object.entries(spec)) {
    const text = env[option.env];
    if (text === undefined || cmd.getOptionValueSource(key) === 'cli') continue;
    cmd.setOptionValueWithSource(key, takesValue(option.flag) ? text : readBool(text), 'env');
  }
}

/** One option whose value its schema refused. */
export interface OptionProblem {
  /** its long flag, e.g. '--timeout' */
  flag: string;
  env: string;
  /** where the value came from: 'cli' (the flag), 'env', 'default' */
  source?: string;
  /** the refused value, unless the option is secret */
  shown?: string;
  message: string;
}

/**
 * Each option's value from what commander collected (`raw`, keyed like the spec; `sourceOf` says where a value
 * came from), checked by its schema. A missing value is the spec's default. Every problem is returned, not only
 * the first, so the caller can report them all at once.
 */
export function resolveOptions<S extends OptionsSpec>(
  spec: S,
  raw: Record<string, unknown>,
  sourceOf: (key: string) => string | undefined = () => undefined,
): { values: OptionValues<S>; problems: OptionProblem[] } {
  const values: Record<string, unknown> = {};
  const problems: OptionProblem[] = [];
  for (const [key, option] of Object.entries(spec)) {
    const given = raw[key] ?? option.default;
    if (!option.schema) {
      // a plain boolean flag is false when absent, a --no-x flag true (as commander has it)
      const absent = longFlag(option).startsWith('--no-');
      values[key] = takesValue(option.flag) ? given : given === undefined ? absent : given === true;
      continue;
    }
    const parsed = option.schema.safeParse(given);
    if (parsed.success) {
      values[key] = parsed.data;
      continue;
    }
    problems.push({
      flag: longFlag(option),
      env: option.env,
      source: raw[key] === undefined ? 'default' : sourceOf(key),
      shown: option.secret || given === undefined ? undefined : String(given),
      message: parsed.error.issues.map((issue) => issue.message).join('; '),
    });
  }
  // the one place the spec's keys meet their values' types (each checked by its schema above)
  return { values: values as OptionValues<S>, problems };
}
