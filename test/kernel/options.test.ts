// kernel/options.ts: one option spec gives the commander option (help naming the env var once), the env
// reading (flags over env vars over defaults, booleans by their words) and the typed values, every problem at once.
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { intFrom } from '../../kernel/flags.ts';
import { addOptions, defineOptions, readOptionEnv, resolveOptions } from '../../kernel/options.ts';
import { durationMs } from '../../kernel/units.ts';

const spec = defineOptions({
  count: {
    flag: '-n, --count <n>',
    env: 'X_COUNT',
    description: 'how many',
    schema: intFrom(1),
    default: '2',
  },
  every: {
    flag: '--every <duration>',
    env: 'X_EVERY',
    description: 'how often',
    schema: durationMs.optional(),
  },
  name: { flag: '--name <text>', env: 'X_NAME', description: 'a name' },
  token: {
    flag: '--token <t>',
    env: 'X_TOKEN',
    description: 'secret',
    schema: intFrom(0).optional(),
    secret: true,
  },
  wait: { flag: '--no-wait', env: 'X_WAIT', description: 'do not wait' },
  loud: { flag: '--loud', env: 'X_LOUD', description: 'louder' },
});

function parse(argv: string[], env: NodeJS.ProcessEnv) {
  const cmd = new Command('x').exitOverride();
  addOptions(cmd, spec);
  cmd.parse(argv, { from: 'user' });
  readOptionEnv(cmd, spec, env);
  return resolveOptions(spec, cmd.opts(), (key) => cmd.getOptionValueSource(key));
}

describe('option specs', () => {
  it('defaults, then env vars, then flags', () => {
    expect(parse([], {}).values).toEqual({
      count: 2,
      every: undefined,
      name: undefined,
      token: undefined,
      wait: true,
      loud: false,
    });
    const env = { X_COUNT: '5', X_EVERY: '1m', X_NAME: 'env', X_WAIT: 'off', X_LOUD: '1' };
    expect(parse([], env).values).toMatchObject({
      count: 5,
      every: 60_000,
      name: 'env',
      wait: false,
      loud: true,
    });
    expect(parse(['-n', '7', '--name', 'flag', '--loud'], { ...env, X_LOUD: 'no' }).values).toMatchObject({
      count: 7,
      name: 'flag',
      loud: true,
    });
  });

  it('without commander, the values are the defaults', () => {
    expect(resolveOptions(spec, {}).values).toMatchObject({ count: 2, wait: true, loud: false });
  });

  it('reports every problem with its source, never a secret value', () => {
    const { problems } = parse(['-n', '0', '--token', 'hunter2'], { X_EVERY: 'soon' });
    expect(problems).toEqual([
      { flag: '--count', env: 'X_COUNT', source: 'cli', shown: '0', message: 'must be a whole number ≥ 1' },
      expect.objectContaining({
        flag: '--every',
        source: 'env',
        shown: 'soon',
        message: expect.stringMatching(/"soon" is not a duration/),
      }),
      expect.objectContaining({ flag: '--token', shown: undefined }),
    ]);
  });

  it('names the env var once in the help, and refuses a key that is not the flag', () => {
    const cmd = new Command('x');
    addOptions(cmd, spec);
    const help = cmd.helpInformation().replace(/\s+/g, ' ');
    expect(help.match(/X_COUNT/g)).toHaveLength(1);
    expect(help).toContain('[env: X_COUNT] (default: "2")');
    expect(() => addOptions(new Command('y'), { counted: spec.count })).toThrow(/must match flag/);
  });
});
