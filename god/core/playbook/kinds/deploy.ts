// `deploy: {roles, version, batch, health, bundle_dir, build}`: ssh/ec2 ship a release through the deploy
// service (`god deploy`); the local fleet runs the working tree, so there it is a rolling restart by batches.
import path from 'node:path';
import { z } from 'zod';
import { UserError } from '../../../../kernel/errors.ts';
import { RoleSchema } from '../../../../protocol/redis-contract.ts';
import { deploy as deployService } from '../../deploy/deploy.ts';
import type { DeployResult } from '../../deploy/types.ts';
import { batchSize, chunk } from '../../deploy/util.ts';
import { restartOp } from '../../operations.ts';
import type { ExpectedProcess, RemoteProvider } from '../../providers/types.ts';
import type { PlayContext } from '../context.ts';
import { optionalText, orEmpty, positive } from '../fields.ts';
import { remote, waitOpts } from './fleet.ts';
import { defineKind, type KindStep } from './kind.ts';

export const DeploySchema = z
  .object({
    roles: z.array(RoleSchema).min(1).optional(),
    /** release name (default, or empty: bundle version + content hash) */
    version: optionalText,
    /** hosts (local: processes) per batch, N or "N%" */
    batch: z.union([positive, z.string().regex(/^\d+%?$/, 'must be N or N%')]).optional(),
    /** health-check restarted processes (default true) */
    health: z.boolean().default(true),
    bundle_dir: optionalText,
    build: z.boolean().default(false),
  })
  .strict();

type DeployStep = KindStep<'deploy', z.output<typeof DeploySchema>>;

function deployChanges(r: DeployResult): string[] {
  return r.hosts
    .filter((h) => h.status !== 'unchanged' && (h.previous !== r.version || h.restarted.length > 0))
    .map(
      (h) =>
        `${h.host}: ${h.previous ?? '(none)'} → ${r.version}${h.uploaded.length ? `; upload ${h.uploaded.join(', ')}` : ''}${
          h.restarted.length ? `; restart ${h.restarted.join(', ')}` : ''
        }`,
    );
}

async function remoteDeploy(
  pc: PlayContext,
  s: DeployStep,
  rp: RemoteProvider,
  timeoutMs: number,
  dryRun: boolean,
) {
  const fleetRedis = await pc.redis();
  const a = s.args;
  return deployService({
    hosts: await rp.deployHosts(),
    ssh: rp.sshOptions(),
    pool: pc.pool(),
    redis: fleetRedis.redis,
    keys: fleetRedis.keys,
    roles: a.roles,
    version: a.version,
    bundleDir: a.bundle_dir ? path.resolve(pc.cwd, a.bundle_dir) : undefined,
    build: a.build,
    batch: a.batch,
    concurrency: rp.concurrency(),
    dryRun,
    healthTimeoutMs: timeoutMs,
    noHealth: !a.health,
    events: pc.events,
    signal: pc.signal,
  });
}

/** The local fleet runs the working tree's sources: a deploy is a rolling restart with health checks. */
async function localBatches(pc: PlayContext, s: DeployStep): Promise<ExpectedProcess[][]> {
  const procs = (await pc.provider.expected()).filter((p) => !s.args.roles || s.args.roles.includes(p.role));
  return chunk(procs, batchSize(s.args.batch, procs.length));
}

export const deploy = defineKind({
  kind: 'deploy',
  args: orEmpty(DeploySchema),
  hint: 'deploy takes roles, version, batch (N or N%), health (true/false), bundle_dir and build.',
  example: {},
  defaultName: (a) => `deploy${a.version ? ` ${a.version}` : ''}${a.roles ? ` (${a.roles.join(', ')})` : ''}`,
  timeout: '60s',
  needsFleet: false,
  async plan(pc, s, timeoutMs) {
    const rp = remote(pc);
    if (rp) return deployChanges(await remoteDeploy(pc, s, rp, timeoutMs, true));
    const batches = await localBatches(pc, s);
    return batches.map(
      (b, i) => `batch ${i + 1}/${batches.length}: restart ${b.map((p) => p.id).join(', ')}`,
    );
  },
  async run(pc, s, timeoutMs) {
    const rp = remote(pc);
    if (rp) {
      const r = await remoteDeploy(pc, s, rp, timeoutMs, false);
      const changes = deployChanges(r);
      if (!r.ok) {
        const bad = r.hosts.filter((h) => !h.ok);
        throw new UserError(
          `deploy ${r.version} failed on ${bad.map((h) => `${h.host} (${h.status}${h.error ? `: ${h.error.split('\n')[0]}` : ''})`).join(', ')}${
            r.stoppedAtBatch ? `; stopped at batch ${r.stoppedAtBatch}, which was rolled back` : ''
          }`,
          {
            code: 'GOD_DEPLOY',
            hint: bad.find((h) => h.hint)?.hint ?? 'See the host lines above; `god logs --host HOST`.',
          },
        );
      }
      return {
        changed: changes.length > 0,
        changes,
        detail: `release ${r.version} on ${r.hosts.length} host(s)`,
      };
    }
    if (s.args.version) {
      pc.events.emit({
        type: 'warn',
        message: `deploy: the local fleet runs this working tree; version ${s.args.version} is not applied`,
        hint: 'Locally a deploy is a rolling restart by batches with health checks.',
      });
    }
    const batches = await localBatches(pc, s);
    const changes: string[] = [];
    for (const [i, b] of batches.entries()) {
      if (pc.signal?.aborted)
        throw new UserError('interrupted', { code: 'GOD_INTERRUPTED', hint: 'Run the play again.' });
      await restartOp({
        provider: pc.provider,
        ids: b.map((p) => p.id),
        wait: waitOpts(pc, timeoutMs, s.args.health),
        events: pc.events,
      });
      changes.push(`batch ${i + 1}/${batches.length}: restarted ${b.map((p) => p.id).join(', ')}`);
    }
    return { changed: changes.length > 0, changes, detail: `${batches.flat().length} process(es) restarted` };
  },
});
