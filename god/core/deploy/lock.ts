// The deploy lock: one operator at a time. SET NX PX with an owner token, renewed while the deploy runs.
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type { Redis } from 'ioredis';
import type { RedisContract } from '../../../protocol/redis-contract.ts';
import { UserError } from '../../../kernel/errors.ts';

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

  static async acquire(
    redis: Redis,
    keys: RedisContract,
    o: { owner?: string; what: string; ttlMs?: number },
  ): Promise<DeployLock> {
    const ttlMs = o.ttlMs ?? 30_000;
    const holder: LockHolder = {
      owner: o.owner ?? defaultOwner(),
      what: o.what,
      since: new Date().toISOString(),
      token: randomBytes(8).toString('hex'),
    };
    const value = JSON.stringify(holder);
    const ok = await redis.set(keys.deployLock, value, 'PX', ttlMs, 'NX');
    if (ok !== 'OK') {
      const [cur, pttl] = await Promise.all([redis.get(keys.deployLock), redis.pttl(keys.deployLock)]);
      let h: Partial<LockHolder> = {};
      try {
        h = JSON.parse(cur ?? '{}');
      } catch {
        h = { owner: cur ?? '?' };
      }
      throw new UserError(
        `another deploy holds the deploy lock: ${h.owner ?? 'unknown'} (${h.what ?? 'deploy'}) since ${h.since ?? '?'}${pttl > 0 ? `; it expires in ${Math.ceil(pttl / 1000)} s unless renewed` : ''}.`,
        {
          code: 'GOD_DEPLOY_LOCKED',
          hint: `Wait for that deploy to finish and try again. If its operator is gone (crashed God), the lock expires by itself within ${Math.ceil(ttlMs / 1000)} s.`,
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
