// What the restart, down and deploy steps would change is the provider's own plan: the list `god … --dry-run`
// and the dashboard's prompts print, here as the step's lines.
import { describeChange, type PlannedChange, type PlanOp } from '../../providers/types.ts';
import type { PlayContext } from '../context.ts';
import { fleetRunning } from './fleet.ts';

/** The provider's plan of `op`; a fleet stopped as a whole has nothing to restart, stop or deploy. */
export async function providerPlan(ctx: PlayContext, op: PlanOp): Promise<PlannedChange[]> {
  return (await fleetRunning(ctx)) ? ctx.provider.plan(op) : [];
}

/** A change as a step's line: a process by its id ("stop feeder-1 (pid 41)"), anything else as it reads. */
export function changeLine(change: PlannedChange): string {
  if (change.resource !== 'process') return describeChange(change);
  return `${change.action} ${change.subject}${change.detail ? ` (${change.detail})` : ''}`;
}

/**
 * A deploy's plan as one line per host ("host1: r1 → r2; … ; restart endpoint-host1, keeper-host1"), as the
 * deploy service reports a host; changes on no named host (a cloud instance is its own host) a line each.
 */
export function hostLines(changes: PlannedChange[]): string[] {
  const onHost = new Map<string, { release?: PlannedChange; restart: string[]; stop: string[] }>();
  const lines: string[] = [];
  for (const change of changes) {
    const host = change.host;
    if (!host) {
      lines.push(changeLine(change));
      continue;
    }
    const entry = onHost.get(host) ?? { restart: [], stop: [] };
    onHost.set(host, entry);
    if (change.resource === 'release') entry.release = change;
    else if (change.action === 'restart' || change.action === 'stop')
      entry[change.action].push(change.subject);
    else lines.push(changeLine(change));
  }
  for (const [host, { release, restart, stop }] of onHost) {
    const parts = [
      release?.detail ?? 'the release',
      ...(restart.length ? [`restart ${restart.join(', ')}`] : []),
      ...(stop.length ? [`stop ${stop.join(', ')}`] : []),
    ];
    lines.push(`${host}: ${parts.join('; ')}`);
  }
  return lines;
}
