// The deploy lock grown up, on a real redis-server: `--lock-wait` waits for a held lock (and gives up with
// GOD_LOCK_WAIT), `god lock status` shows holder and age (no token), `god lock release` asks first (GOD_CONFIRM
// without a terminal and without --yes), releases with --yes, and never removes a lock taken since it looked.
// Also: `god down` without --yes and without a terminal refuses, naming the flag.
import fs from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CliContext } from '../../god/cli/context.ts';
import { confirm } from '../../god/cli/confirm.ts';
import { DeployLock, lockStatus, releaseLock } from '../../god/core/deploy/lock.ts';
import { EventBus, type StampedEvent } from '../../god/core/events.ts';
import { redisContract } from '../../protocol/redis-contract.ts';
import { makeTempDir, useRedis } from '../harness/index.ts';
import { godIn } from './cli-helpers.ts';

describe('deploy lock: wait, status, release', () => {
  const getRedis = useRedis();
  const keys = redisContract();
  let redis: Redis;
  let dir: string;
  const run = (...args: string[]) => godIn(args, { cwd: dir, env: { GOD_REDIS_URL: getRedis().url } });

  beforeAll(() => {
    redis = new Redis(getRedis().url);
    dir = makeTempDir('god-lock');
  });
  afterAll(() => redis?.disconnect());

  it('--lock-wait: waits for the holder to finish, saying whom it waits for', async () => {
    const first = await DeployLock.acquire(redis, keys, { owner: 'alice@ci', what: 'deploy r1' });
    const bus = new EventBus();
    const seen: StampedEvent[] = [];
    bus.on((e) => seen.push(e));
    setTimeout(() => void first.release(), 400);
    const second = await DeployLock.acquire(redis, keys, {
      owner: 'bob@ci',
      what: 'deploy r2',
      waitMs: 10_000,
      pollMs: 50,
      events: bus,
    });
    expect((await lockStatus(redis, keys))?.holder.owner).toBe('bob@ci');
    expect(seen).toEqual([
      expect.objectContaining({ type: 'info', data: { lock_owner: 'alice@ci', lock_what: 'deploy r1' } }),
    ]);
    await second.release();
    expect(await lockStatus(redis, keys)).toBeNull();
  });

  it('--lock-wait runs out: GOD_LOCK_WAIT naming the holder; without it: GOD_DEPLOY_LOCKED at once', async () => {
    const held = await DeployLock.acquire(redis, keys, { owner: 'alice@ci', what: 'deploy r1' });
    try {
      await expect(
        DeployLock.acquire(redis, keys, { what: 'deploy r2', waitMs: 300, pollMs: 50 }),
      ).rejects.toMatchObject({ code: 'GOD_LOCK_WAIT', message: expect.stringContaining('alice@ci') });
      await expect(DeployLock.acquire(redis, keys, { what: 'deploy r2' })).rejects.toMatchObject({
        code: 'GOD_DEPLOY_LOCKED',
        hint: expect.stringContaining('--lock-wait'),
      });
    } finally {
      await held.release();
    }
  });

  it('god lock status: free, then holder and age, never the token', async () => {
    const free = await run('lock', 'status', '--json');
    expect(free.code).toBe(0);
    expect(free.lines.at(-1)).toMatchObject({ type: 'result', command: 'lock', data: { held: false } });
    // a dead run's lock: set by hand with an old `since`, as a crashed God leaves it
    const since = new Date(Date.now() - 90_000).toISOString();
    await redis.set(
      keys.deployLock,
      JSON.stringify({ owner: 'carol@laptop (pid 1)', what: 'deploy r3', since, token: 'secret-token' }),
      'PX',
      60_000,
    );
    const r = await run('lock', '--json');
    const data = (r.lines.at(-1) as { data: Record<string, unknown> }).data;
    expect(data).toMatchObject({ held: true, owner: 'carol@laptop (pid 1)', what: 'deploy r3', since });
    expect(data.age_ms as number).toBeGreaterThanOrEqual(90_000);
    expect(data.ttl_ms as number).toBeGreaterThan(0);
    expect(r.stdout).not.toContain('secret-token');
    const plain = await run('lock', 'status');
    expect(plain.stdout).toMatch(/held by carol@laptop \(pid 1\) \(deploy r3\) since .*, 9\d s ago/);
  });

  it('god lock release: refuses without a terminal or --yes, releases with --yes', async () => {
    const no = await run('lock', 'release', '--json');
    expect(no.code).toBe(2);
    expect(no.lines.at(-1)).toMatchObject({
      type: 'error',
      code: 'GOD_CONFIRM',
      hint: expect.stringContaining('--yes'),
    });
    expect(await redis.exists(keys.deployLock)).toBe(1);
    const yes = await run('lock', 'release', '--yes', '--json');
    expect(yes.code).toBe(0);
    expect(yes.lines.at(-1)).toMatchObject({
      command: 'lock release',
      data: { released: true, owner: 'carol@laptop (pid 1)' },
    });
    expect(await redis.exists(keys.deployLock)).toBe(0);
    const none = await run('lock', 'release', '--yes', '--json');
    expect(none.lines.at(-1)).toMatchObject({ type: 'error', code: 'GOD_LOCK_NONE' });
  });

  it('god rollback: asks first (GOD_CONFIRM without --yes); --lock-wait reaches the lock from the CLI', async () => {
    // an ssh inventory whose host is never reached: both answers come before any SSH
    const cfg = path.join(dir, 'ssh.yaml');
    fs.writeFileSync(
      cfg,
      stringify({
        provider: 'ssh',
        redis: { url: getRedis().url },
        ssh: { hosts: [{ name: 'edge-1', address: '127.0.0.1', port: 9, roles: ['keeper'] }] },
      }),
    );
    const rb = (...args: string[]) =>
      godIn(['rollback', '-c', cfg, '--json', ...args], { cwd: dir, env: { GOD_REDIS_URL: getRedis().url } });
    const no = await rb();
    expect(no.code).toBe(2);
    expect(no.lines.at(-1)).toMatchObject({ code: 'GOD_CONFIRM', hint: expect.stringContaining('--yes') });
    const held = await DeployLock.acquire(redis, keys, { owner: 'alice@ci', what: 'deploy r1' });
    try {
      const r = await rb('--yes', '--lock-wait', '400ms');
      expect(r.code).toBe(1);
      expect(r.lines).toContainEqual(
        expect.objectContaining({ type: 'info', data: { lock_owner: 'alice@ci', lock_what: 'deploy r1' } }),
      );
      expect(JSON.stringify(r.lines.at(-1))).toContain('GOD_LOCK_WAIT');
    } finally {
      await held.release();
    }
  });

  it('release never removes a lock taken after the operator looked', async () => {
    const old = await DeployLock.acquire(redis, keys, { owner: 'dead@run', what: 'deploy r1' });
    const seen = (await lockStatus(redis, keys))!;
    await old.release();
    const live = await DeployLock.acquire(redis, keys, { owner: 'live@run', what: 'deploy r2' });
    expect(await releaseLock(redis, keys, seen)).toBe(false);
    expect((await lockStatus(redis, keys))?.holder.owner).toBe('live@run');
    await live.release();
  });
});

describe('destructive commands ask', () => {
  it('god down without a terminal and without --yes refuses, naming the flag', async () => {
    const dir = makeTempDir('god-down-ask');
    const r = await godIn(['down', '--json'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.lines.at(-1)).toMatchObject({
      type: 'error',
      code: 'GOD_CONFIRM',
      message: expect.stringContaining('stop the whole fleet'),
      hint: expect.stringContaining('--yes'),
    });
  });

  it('a "no" on the terminal cancels, a "yes" goes on, --yes does not ask', async () => {
    const ctx = { env: {}, opts: { json: false } } as unknown as CliContext;
    const asked: string[] = [];
    const answer = (a: boolean) => async (q: string) => {
      asked.push(q);
      return a;
    };
    await expect(
      confirm(ctx, { yes: false, what: 'stop the whole fleet', command: 'down', ask: answer(false) }),
    ).rejects.toMatchObject({ code: 'GOD_CANCELLED' });
    await confirm(ctx, { yes: false, what: 'stop the whole fleet', command: 'down', ask: answer(true) });
    await confirm(ctx, { yes: true, what: 'stop the whole fleet', command: 'down', ask: answer(false) });
    expect(asked).toEqual(['Stop the whole fleet?', 'Stop the whole fleet?']);
  });
});
