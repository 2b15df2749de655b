// `god lock status` / `god lock release`: the deploy lock (god/core/deploy/lock.ts) as an operator sees it.
import { UserError } from '../../../kernel/errors.ts';
import { releaseLock, lockStatus, type LockStatus } from '../../core/deploy/lock.ts';
import { confirm } from '../confirm.ts';
import type { CliContext } from '../context.ts';
import { defineCommand, YES_OPTIONS } from '../spec.ts';

/** What `--json` prints: the holder without its token (the token only proves ownership to the holder). */
function shown(st: LockStatus | null) {
  if (!st) return { held: false as const };
  const { token: _token, ...holder } = st.holder;
  return { held: true as const, ...holder, age_ms: st.age_ms, ttl_ms: st.ttlMs };
}

const secs = (ms: number | null) => (ms === null ? '?' : `${Math.round(ms / 1000)} s`);

function describe(st: LockStatus): string {
  const h = st.holder;
  return `held by ${h.owner ?? 'unknown'} (${h.what ?? 'deploy'}) since ${h.since ?? '?'}, ${secs(st.age_ms)} ago; expires in ${secs(st.ttlMs)} unless renewed`;
}

async function read(ctx: CliContext) {
  const fleet = await ctx.redis();
  return { fleet, st: await lockStatus(fleet.redis, fleet.keys) };
}

export const lockStatusCommand = defineCommand({
  async run(ctx) {
    const { st } = await read(ctx);
    ctx.out.result('lock', shown(st), () => [st ? `deploy lock ${describe(st)}` : 'deploy lock: free']);
    return 0;
  },
});

export const lockReleaseCommand = defineCommand({
  options: YES_OPTIONS,
  async run(ctx, _args, opts) {
    const { fleet, st } = await read(ctx);
    if (!st) throw new UserError('the deploy lock is not held', { code: 'GOD_LOCK_NONE' });
    await confirm(ctx, {
      yes: opts.yes,
      what: `release the deploy lock ${describe(st)} (only if that run is dead)`,
      command: 'lock release',
    });
    if (!(await releaseLock(fleet.redis, fleet.keys, st))) {
      throw new UserError('the deploy lock changed while you looked: it was not released', {
        code: 'GOD_DEPLOY_LOCKED',
        hint: 'Another run took or renewed it; `god lock status` shows who holds it now.',
      });
    }
    ctx.out.result('lock release', { released: true, ...shown(st) }, () => [
      `released the deploy lock of ${st.holder.owner ?? 'unknown'} (${st.holder.what ?? 'deploy'})`,
    ]);
    return 0;
  },
});
