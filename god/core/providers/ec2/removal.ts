// Which instances go first when a role shrinks (`god up ROLE -n fewer`, `god down ROLE -n N`): for endpoints
// the ones holding the fewest clients (fewest reconnects; unknown counts as 0: it serves no one), newest first
// among equals; for the other roles, and when no client counts are known, the newest first.
import type { Instance } from '@aws-sdk/client-ec2';
import type { Role } from '../../../../protocol/redis-contract.ts';

const newestFirst = (a: Instance, b: Instance) =>
  (b.LaunchTime?.getTime() ?? 0) - (a.LaunchTime?.getTime() ?? 0) ||
  String(b.InstanceId).localeCompare(String(a.InstanceId));

/** `live` in the order they would be removed; take the first n. `clients`: instance id → clients held. */
export function removalOrder(
  role: Role | undefined,
  live: Instance[],
  clients?: Map<string, number>,
): Instance[] {
  if (role !== 'endpoint' || !clients) return [...live].sort(newestFirst);
  const held = (i: Instance) => clients.get(i.InstanceId ?? '') ?? 0;
  return [...live].sort((a, b) => held(a) - held(b) || newestFirst(a, b));
}
