// The deploy lock: one operator at a time. SET NX PX with an owner token, renewed while the deploy runs.
// A CI job that races another may wait for it (`--lock-wait`); `god lock status` reads the holder and
// `god lock release` removes one a dead run left (compare-and-delete of the value it showed, so a lock taken
// meanwhile by a live deploy is never removed).
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type { Redis } from 'ioredis';
import type { RedisContract } from '../../../protocol/redis-contract.ts';
import { UserError } from '../../../kernel/errors.ts';
import { sleep } from '../../../kernel/sleep.ts';
import type { EventSink } from '../events.ts';

export interface LockHolder {
  owner: string;
  what: string;
  since: string;
  token: string;
}

const RENEW = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

export function defaultOwner(): string {
  let user = process.env.GOD_OPERATOR;
  if (!user) {
    try {
      user = os.userInfo().username;
    } catch {
      user = 'unknown';
    }
  }
  return `${user}@${os.hostname()} (pid ${process.pid})`;
}

export class DeployLock {
  private timer?: NodeJS.Timeout;
  /** set when a renewal found the lock gone or taken: the deploy must stop */
  lost = false;

  private constructor(
    private readonly redis: Redis,
    private readonly key: string,
    private readonly value: string,
    readonly holder: LockHolder,
    private readonly ttlMs: number,
  ) {}

  /**
   * Take the lock. Held by another: fail at once, or with `waitMs` poll until it is free (GOD_LOCK_WAIT when
   * the wait runs out, GOD_INTERRUPTED on `signal`), telling `events` once who it waits for.
   */
  static async acquire(
    redis: Redis,
    keys: RedisContract,
    o: {
      owner?: string;
      what: string;
      ttlMs?: number;
      waitMs?: number;
      pollMs?: number;
      signal?: AbortSignal;
      events?: EventSink;
    },
  ): Promise<DeployLock> {
    const ttlMs = o.ttlMs ?? 30_000;
    const holder: LockHolder = {
      owner: o.owner ?? defaultOwner(),
      what: o.what,
      since: new Date().toISOString(),
      token: randomBytes(8).toString('hex'),
    };
    const value = JSON.stringify(holder);
    const t0 = Date.now();
    let told = false;
    for (;;) {
      if ((await redis.set(keys.deployLock, value, 'PX', ttlMs, 'NX')) === 'OK') break;
      const st = await lockStatus(redis, keys);
      const h: Partial<LockHolder> = st?.holder ?? {};
      const left = (o.waitMs ?? 0) - (Date.now() - t0);
      if (left > 0 && !o.signal?.aborted) {
        if (!told) {
          told = true;
          o.events?.emit({
            type: 'info',
            message: `waiting up to ${Math.ceil(left / 1000)} s for the deploy lock: held by ${h.owner ?? 'unknown'} (${h.what ?? 'deploy'}) since ${h.since ?? '?'}`,
            data: { lock_owner: h.owner ?? null, lock_what: h.what ?? null },
          });
        }
        await sleep(Math.min(left, o.pollMs ?? 500), o.signal);
        continue;
      }
      if (o.signal?.aborted) {
        throw new UserError('interrupted while waiting for the deploy lock', { code: 'GOD_INTERRUPTED' });
      }
      if (o.waitMs) {
        throw new UserError(
          `the deploy lock is still held after waiting ${Math.round(o.waitMs / 1000)} s: ${h.owner ?? 'unknown'} (${h.what ?? 'deploy'}) since ${h.since ?? '?'}`,
          {
            code: 'GOD_LOCK_WAIT',
            hint: 'Wait longer (--lock-wait / GOD_LOCK_WAIT), or if that run is dead: `god lock status`, then `god lock release`.',
          },
        );
      }
      const pttl = st?.ttlMs ?? -1;
      throw new UserError(
        `another deploy holds the deploy lock: ${h.owner ?? 'unknown'} (${h.what ?? 'deploy'}) since ${h.since ?? '?'}${pttl > 0 ? `; it expires in ${Math.ceil(pttl / 1000)} s unless renewed` : ''}.`,
        {
          code: 'GOD_DEPLOY_LOCKED',
          hint: `Wait for that deploy to finish and try again (or pass --lock-wait 5m to wait for it). If its operator is gone (crashed God), the lock expires by itself within ${Math.ceil(ttlMs / 1000)} s, or \`god lock release\` removes it.`,
        },
      );
    }
    const lock = new DeployLock(redis, keys.deployLock, value, holder, ttlMs);
    lock.timer = setInterval(() => void lock.renew(), Math.max(200, Math.floor(ttlMs / 3)));
    lock.timer.unref();
    return lock;
  }

  async renew(): Promise<boolean> {
    try {
      const r = await this.redis.eval(RENEW, 1, this.key, this.value, String(this.ttlMs));
      if (Number(r) !== 1) this.lost = true;
    } catch {
      // Redis away: the next renewal retries; the lock may expire meanwhile
    }
    return !this.lost;
  }

  async release(): Promise<void> {
    clearInterval(this.timer);
    await this.redis.eval(RELEASE, 1, this.key, this.value).catch(() => {});
  }
}

/** The lock as `god lock status` shows it: who holds it, since when, and how long before it expires. */
export interface LockStatus {
  holder: Partial<LockHolder>;
  /** the stored value as is: `releaseLock` deletes only this one */
  raw: string;
  age_ms: number | null;
  /** remaining time to live; the holder renews it every third of its TTL while it runs */
  ttlMs: number;
}

/** The lock's holder, or null when it is free. */
export async function lockStatus(
  redis: Redis,
  keys: RedisContract,
  now = Date.now(),
): Promise<LockStatus | null> {
  const [raw, pttl] = await Promise.all([redis.get(keys.deployLock), redis.pttl(keys.deployLock)]);
  if (raw === null) return null;
  let holder: Partial<LockHolder>;
  try {
    const v = JSON.parse(raw) as unknown;
    holder = v && typeof v === 'object' ? (v as Partial<LockHolder>) : { owner: raw };
  } catch {
    holder = { owner: raw };
  }
  const since = typeof holder.since === 'string' ? Date.parse(holder.since) : Number.NaN;
  return { holder, raw, age_ms: Number.isNaN(since) ? null : Math.max(0, now - since), ttlMs: pttl };
}

/**
 * Remove the lock `seen` shows (read by `lockStatus`), only if it still holds that value: a lock a live deploy
 * took after the operator looked stays. Returns whether it was removed.
 */
export async function releaseLock(redis: Redis, keys: RedisContract, seen: LockStatus): Promise<boolean> {
  return Number(await redis.eval(RELEASE, 1, keys.deployLock, seen.raw)) === 1;
}
