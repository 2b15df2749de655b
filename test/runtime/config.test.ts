import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { commonOptions, durationMs, parseConfig } from '../../roles/runtime/config.ts';
import { formatUserError, UserError } from '../../kernel/errors.ts';

const spec = {
  ...commonOptions,
  port: {
    flag: '--port <n>',
    env: 'FG_PORT',
    description: 'port',
    schema: z.coerce.number().int().min(0).max(65535),
    default: '7000',
  },
  idle: {
    flag: '--idle <duration>',
    env: 'FG_IDLE',
    description: 'idle timeout',
    schema: durationMs,
    default: '90s',
  },
};

describe('role config from flags and env', () => {
  it('uses defaults, then env vars, then flags', () => {
    expect(parseConfig('endpoint', spec, [], {}).port).toBe(7000);
    expect(parseConfig('endpoint', spec, [], { FG_PORT: '7100' }).port).toBe(7100);
    expect(parseConfig('endpoint', spec, ['--port', '7200'], { FG_PORT: '7100' }).port).toBe(7200);
    const c = parseConfig('endpoint', spec, ['--redis', 'rediss://:pw@db:6380/2'], { FG_IDLE: '2m' });
    expect(c.redis).toBe('rediss://:pw@db:6380/2');
    expect(c.idle).toBe(120_000);
    expect(c.prefix).toBe('fg:');
  });

  it('parses durations', () => {
    expect(durationMs.parse('250ms')).toBe(250);
    expect(durationMs.parse('1.5s')).toBe(1500);
    expect(durationMs.parse('1h')).toBe(3_600_000);
    expect(durationMs.parse(42)).toBe(42);
    expect(durationMs.safeParse('soon').success).toBe(false);
  });

  it('reports every invalid value at once with its flag and env var, hiding secrets', () => {
    let err: unknown;
    try {
      parseConfig('endpoint', spec, ['--port', '99999', '--redis', 'http://:hunter2@x'], {
        FG_IDLE: 'later',
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UserError);
    const text = formatUserError(err);
    expect(text).toContain('--port / FG_PORT');
    expect(text).toContain('--idle / FG_IDLE');
    expect(text).toContain('"later" is not a duration');
    expect(text).toContain('--redis / FG_REDIS_URL');
    expect(text).toContain('must start with redis://, rediss://');
    expect(text).not.toContain('hunter2');
    expect(text).toMatch(/endpoint --help/);
  });

  it('rejects unknown flags with a hint', () => {
    expect(() => parseConfig('endpoint', spec, ['--prot', '1'], {})).toThrow(/unknown option '--prot'/);
    try {
      parseConfig('endpoint', spec, ['--prot', '1'], {});
    } catch (e) {
      expect((e as UserError).hint).toMatch(/--help/);
    }
  });

  it('rejects a bad id', () => {
    expect(() => parseConfig('endpoint', spec, ['--id', 'a b/c'], {})).toThrow(/--id \/ FG_ID/);
  });

  it('reads boolean env vars by their words: 0/false/no/off are false', () => {
    // commander's own env handling made any set value true (FG_REDIS_TLS_INSECURE=0 turned checks off)
    for (const off of ['0', 'false', 'no', 'off', ''])
      expect(parseConfig('endpoint', spec, [], { FG_REDIS_TLS_INSECURE: off }).redisTlsInsecure, off).toBe(
        false,
      );
    for (const on of ['1', 'true', 'yes', 'on'])
      expect(parseConfig('endpoint', spec, [], { FG_REDIS_TLS_INSECURE: on }).redisTlsInsecure, on).toBe(
        true,
      );
    expect(
      parseConfig('endpoint', spec, ['--redis-tls-insecure'], { FG_REDIS_TLS_INSECURE: '0' })
        .redisTlsInsecure,
    ).toBe(true);
  });

  it('names the env var once per option in --help', () => {
    const out: string[] = [];
    const write = process.stdout.write;
    process.stdout.write = ((text: string) => out.push(text) > 0) as typeof process.stdout.write;
    try {
      expect(() => parseConfig('endpoint', spec, ['--help'], {}, { exitOnHelp: false })).toThrow(
        /help shown/,
      );
    } finally {
      process.stdout.write = write;
    }
    const help = out.join('').replace(/\s+/g, ' ');
    expect(help).toContain('[env: FG_REDIS_URL]');
    expect(help.match(/FG_REDIS_URL/g)).toHaveLength(1);
    expect(help.match(/FG_PORT/g)).toHaveLength(1);
  });
});
