import { describe, expect, it } from 'vitest';
import { redisUrl } from '../../kernel/redis-url.ts';

describe('redisUrl (the roles --redis flag, God redis.url)', () => {
  it('takes redis:// and rediss:// URLs, refuses others saying why', () => {
    for (const ok of ['redis://127.0.0.1:6379', 'rediss://:pw@db.example:6380/2', 'redis://h']) {
      expect(redisUrl.parse(ok)).toBe(ok);
    }
    expect(redisUrl.safeParse('http://h:1').error?.issues[0]?.message).toBe(
      'must start with redis:// or rediss://',
    );
    expect(redisUrl.safeParse('redis://[bad').error?.issues.map((i) => i.message)).toContain(
      'is not a valid URL',
    );
  });
});
