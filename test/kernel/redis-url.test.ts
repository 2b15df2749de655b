import { describe, expect, it } from 'vitest';
import { describeRedisDeployment, parseRedisDeployment } from '../../kernel/redis-deployment.ts';
import { redactUrl } from '../../kernel/redact.ts';
import { redisUrl } from '../../kernel/redis-url.ts';

const problem = (u: string) =>
  redisUrl
    .safeParse(u)
    .error?.issues.map((i) => i.message)
    .join('; ');

describe('redisUrl (the roles --redis flag, God redis.url)', () => {
  it('takes redis:// and rediss:// URLs, refuses others saying why', () => {
    for (const ok of ['redis://127.0.0.1:6379', 'rediss://:pw@db.example:6380/2', 'redis://h']) {
      expect(redisUrl.parse(ok)).toBe(ok);
    }
    expect(problem('http://h:1')).toMatch(/^must start with redis:\/\/, rediss:\/\/, redis\+sentinel:\/\//);
    expect(problem('redis://[bad')).toContain('is not a valid URL');
    expect(problem('redis://a:1,b:2')).toContain('use redis+sentinel://');
  });

  it('reads one server: host, port, db, user and password', () => {
    expect(parseRedisDeployment('rediss://u:p%40ss@db.example:6380/2')).toMatchObject({
      kind: 'single',
      host: 'db.example',
      port: 6380,
      db: 2,
      username: 'u',
      password: 'p@ss',
      tls: true,
    });
    expect(parseRedisDeployment('redis://h')).toMatchObject({ port: 6379, db: 0, tls: false });
  });

  it('reads a Sentinel set: sentinels (default port 26379), master name, db, both passwords and TLS', () => {
    const d = parseRedisDeployment(
      'rediss+sentinel://:data%20pw@s1:26380,s2,[::1]:26381/mymaster/3?sentinel_password=sp&sentinel_tls=0',
    );
    expect(d).toEqual({
      kind: 'sentinel',
      sentinels: [
        { host: 's1', port: 26380 },
        { host: 's2', port: 26379 },
        { host: '::1', port: 26381 },
      ],
      masterName: 'mymaster',
      db: 3,
      username: undefined,
      password: 'data pw',
      tls: true,
      sentinelTls: false,
      sentinelUsername: undefined,
      sentinelPassword: 'sp',
    });
    expect(describeRedisDeployment(d)).toBe(
      'Sentinel master "mymaster" via s1:26380, s2:26379, [::1]:26381 (TLS)',
    );
    expect(parseRedisDeployment('redis+sentinel://s1/m')).toMatchObject({
      tls: false,
      sentinelTls: false,
      db: 0,
    });
    // no secret of it reaches a log line
    const shown = redactUrl('redis+sentinel://:datapw@s1,s2/m?sentinel_password=sentinelpw');
    expect(shown).not.toMatch(/datapw|sentinelpw/);
  });

  it('refuses a Sentinel set without sentinels or master name, with bad ports or unknown options', () => {
    expect(problem('redis+sentinel://s1,s2')).toContain('names no master');
    expect(problem('redis+sentinel:///m')).toContain('names no sentinel');
    expect(problem('redis+sentinel://s1,,s2/m')).toContain('names no sentinel');
    expect(problem('redis+sentinel://s1:99999/m')).toContain('not in 1-65535');
    expect(problem('redis+sentinel://s1/m?sentinel_pass=x')).toContain('unknown option "sentinel_pass"');
    expect(problem('redis+sentinel://s1/m/x')).toContain('the database must be a number');
    expect(problem('redis+sentinel://s1/m?sentinel_tls=maybe')).toContain('sentinel_tls must be 0 or 1');
    expect(problem('redis+sentinel://s 1/m')).toContain('is not a host[:port]');
  });

  it('reads a Cluster (seed nodes), which the connections refuse as not supported yet', () => {
    expect(parseRedisDeployment('rediss+cluster://:pw@n1:7000,n2:7001')).toMatchObject({
      kind: 'cluster',
      seeds: [
        { host: 'n1', port: 7000 },
        { host: 'n2', port: 7001 },
      ],
      password: 'pw',
      tls: true,
    });
    expect(problem('redis+cluster://n1:7000/2')).toContain('a Cluster has no database');
  });
});
