// Small helpers for running hosts in parallel and in batches.
import type { Role } from '../../../protocol/redis-contract.ts';
import { UserError } from '../../../kernel/errors.ts';
import type { DeployHost, HostResult } from './types.ts';

/** Run `fn` over items with at most `limit` at a time; results in input order. */
export async function mapLimit<T, R>(
  items: T[],
  limit: number,
  fn: (item: T, i: number) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}

/** `--batch N` or `N%` of `total` hosts → hosts per batch (all at once when unset). */
export function batchSize(spec: string | number | undefined, total: number): number {
  if (spec === undefined || spec === '' || total === 0) return Math.max(1, total);
  const s = String(spec).trim();
  const m = /^(\d+)(%?)$/.exec(s);
  const n = m ? Number(m[1]) : Number.NaN;
  if (!m || n < 1 || (m[2] && n > 100)) {
    throw new UserError(`invalid --batch "${s}"`, {
      code: 'GOD_DEPLOY_BATCH',
      hint: 'Give a number of hosts per batch (e.g. 2) or a percentage of the hosts (e.g. 25%).',
    });
  }
  return m[2] ? Math.max(1, Math.ceil((total * n) / 100)) : Math.min(n, total);
}

export function chunk<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** The hosts that run any of `roles` (all of them without roles). */
export function hostsRunning(hosts: DeployHost[], roles?: Role[]): DeployHost[] {
  return roles ? hosts.filter((h) => h.processes.some((p) => roles.includes(p.role))) : hosts;
}

/** A host's result before anything was done to it. */
export const newHostResult = (host: string): HostResult => ({
  host,
  status: 'skipped',
  ok: false,
  uploaded: [],
  reused: [],
  unchanged: [],
  bytes: 0,
  restarted: [],
  ms: 0,
});

export function errorFields(err: unknown): { error: string; code?: string; hint?: string } {
  if (err instanceof UserError) return { error: err.message, code: err.code, hint: err.hint };
  return { error: err instanceof Error ? err.message : String(err) };
}
