import { describe, expect, it } from 'vitest';
import { createLogger } from '../../roles/runtime/logger.ts';
import { redactUrl, scrubSecrets } from '../../kernel/redact.ts';
import { redactUrl as redactRedisUrl } from '../../roles/runtime/redis.ts';

// Every form a password takes in a URL; the secret part is the word SECRET-ish in each.
const URL_FORMS: Array<[string, string, string]> = [
  ['redis://:s3cret@db:6379/0', 'redis://:***@db:6379/0', 's3cret'],
  ['redis://user:s3cret@db:6379', 'redis://user:***@db:6379', 's3cret'],
  ['rediss://default:p@ss@w0rd@db.example:6380', 'rediss://default:***@db.example:6380', 'ss@w0rd'],
  ['redis://:pa/ss/wd@127.0.0.1:6379/2', 'redis://:***@127.0.0.1:6379/2', 'ss/wd'],
  ['redis://:my secret pass@127.0.0.1:6379', 'redis://:***@127.0.0.1:6379', 'secret pass'],
  ['redis://:a:b:c@h:1', 'redis://:***@h:1', 'b:c'],
  ['redis://127.0.0.1:6379/0?password=hunter2&db=1', 'redis://127.0.0.1:6379/0?password=***&db=1', 'hunter2'],
  ['redis://h:1?db=0&password=p%40ss', 'redis://h:1?db=0&password=***', 'p%40ss'],
  ['https://ghp_TOKEN123@github.com/x', 'https://***@github.com/x', 'ghp_TOKEN123'],
];

describe('redactUrl: one function for every printed or logged URL', () => {
  it.each(URL_FORMS)('%s', (url, want, secret) => {
    expect(redactUrl(url)).toBe(want);
    expect(redactRedisUrl(url)).toBe(want);
    // the same URL inside a log line
    const line = scrubSecrets(`connecting to ${url} now`);
    expect(line).toBe(`connecting to ${want} now`);
    expect(line).not.toContain(secret);
    expect(scrubSecrets(JSON.stringify({ msg: 'x', url }))).not.toContain(secret);
  });

  it('leaves URLs without credentials alone', () => {
    for (const u of ['redis://127.0.0.1:6379', 'redis://h:1/0?db=2', 'https://example.com/a?b=c'])
      expect(redactUrl(u)).toBe(u);
  });
});

describe('secrets never reach a log line', () => {
  it('scrubs secret shapes inside strings', () => {
    expect(scrubSecrets('redis://:s3cret@db:6379/0')).toBe('redis://:***@db:6379/0');
    expect(scrubSecrets('https://user:pa55@host/x')).toBe('https://user:***@host/x');
    expect(scrubSecrets('Authorization: Bearer AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')).toBe(
      'Authorization: Bearer ***',
    );
    expect(scrubSecrets('key AKIAABCDEFGHIJKLMNOP used')).toBe('key AKIA**************** used');
    expect(scrubSecrets('password=hunter2&x=1')).toBe('password=***&x=1');
    expect(scrubSecrets('plain text about Frozen')).toBe('plain text about Frozen');
  });

  it('redacts secret fields and strings in real log output', () => {
    const lines: string[] = [];
    const log = createLogger({
      role: 'feeder',
      id: 'f1',
      host: 'h',
      level: 'info',
      stdout: { write: (s: string) => lines.push(s) },
    });
    log.info(
      {
        token: 'tok-123',
        config: { password: 'pw-456', bearerToken: 'bt-789' },
        url: 'redis://:pw-000@db:1',
      },
      'connect with Bearer abcdefghijklmnop',
    );
    expect(lines).toHaveLength(1);
    const out = lines[0]!;
    for (const s of ['tok-123', 'pw-456', 'bt-789', 'pw-000', 'abcdefghijklmnop'])
      expect(out).not.toContain(s);
    const obj = JSON.parse(out);
    expect(obj).toMatchObject({ role: 'feeder', id: 'f1', host: 'h', level: 30, token: '***' });
  });
});
