import { describe, expect, it } from 'vitest';
import { createLogger } from '../../roles/runtime/logger.ts';
import { scrubSecrets } from '../../kernel/redact.ts';

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
