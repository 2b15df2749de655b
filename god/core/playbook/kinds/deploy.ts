// `deploy: {roles, version, batch, health, bundle_dir, build}`: ssh/ec2 ship a release through the deploy
// service (`god deploy`); the local fleet runs the working tree, so there it is a rolling restart by batches.
import path from 'node:path';
import { z } from 'zod';
import { UserError } from '../../../../kernel/errors.ts';
import { RoleSchema } from '../../../../protocol/redis-contract.ts';
import { deploy as deployService, prepareRelease } from '../../deploy/deploy.ts';
import type { DeployResult } from '../../deploy/types.ts';
import { batchSize, chunk } from '../../deploy/util.ts';
import { restartOp } from '../../operations.ts';
import type { RemoteProvider, Target } from '../../providers/types.ts';
import type { PlayContext } from '../context.ts';
import { optionalText, orEmpty, positive } from '../fields.ts';
import { remote, waitOpts } from './fleet.ts';
import { defineKind, type KindStep } from './kind.ts';
import { hostLines, providerPlan } from './provider-plan.ts';

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

function deployChanges(result: DeployResult): string[] {
  return result.hosts
    .filter((h) => h.status !== 'unchanged' && (h.previous !== result.version || h.restarted.length > 0))
    .map(
      (h) =>
        `${h.host}: ${h.previous ?? '(none)'} → ${result.version}${h.uploaded.length ? `; upload ${h.uploaded.join(', ')}` : ''}${
          h.restarted.length ? `; restart ${h.restarted.join(', ')}` : ''
        }`,
    );
}

/** Ship the release through the deploy service (`god deploy`). */
async function remoteDeploy(
  ctx: PlayContext,
  step: DeployStep,
  remoteProvider: RemoteProvider,
  timeoutMs: number,
) {
  const fleetRedis = await ctx.redis();
  const args = step.args;
  return deployService({
    hosts: await remoteProvider.deployHosts(),
    ssh: remoteProvider.sshOptions(),
    pool: ctx.pool(),
    redis: fleetRedis.redis,
    keys: fleetRedis.keys,
    roles: args.roles,
    version: args.version,
    bundleDir: bundleDirOf(ctx, step),
    build: args.build,
    batch: args.batch,
    concurrency: remoteProvider.concurrency(),
    dryRun: false,
    healthTimeoutMs: timeoutMs,
    noHealth: !args.health,
    events: ctx.events,
    signal: ctx.signal,
  });
}

const bundleDirOf = (ctx: PlayContext, step: DeployStep) =>
  step.args.bundle_dir ? path.resolve(ctx.cwd, step.args.bundle_dir) : undefined;

/** The processes of the step's roles (all: undefined), as the provider's plans take them. */
async function targetOfRoles(ctx: PlayContext, step: DeployStep): Promise<Target | undefined | null> {
  const roles = step.args.roles;
  if (!roles) return undefined;
  const picked = (await ctx.provider.expected()).filter((p) => roles.includes(p.role)).map((p) => p.id);
  return picked.length ? { ids: picked } : null; // null: none of the roles runs
}

/**
 * What the deploy service would do, from the provider's plan of the release it would ship (loaded as the
 * deploy loads it: a bundle that is missing is this plan's error too), one line per host.
 */
async function planRemote(ctx: PlayContext, step: DeployStep, remoteProvider: RemoteProvider) {
  const { release } = prepareRelease({
    hosts: await remoteProvider.deployHosts(),
    roles: step.args.roles,
    bundleDir: bundleDirOf(ctx, step),
    version: step.args.version,
    build: step.args.build,
  });
  const target = await targetOfRoles(ctx, step);
  if (target === null) return [];
  return hostLines(await providerPlan(ctx, { op: 'deploy', target, version: release.version }));
}

/**
 * The local fleet runs the working tree's sources: a deploy is a rolling restart with health checks, of the
 * processes the provider's plan would restart, by batches.
 */
async function localBatches(ctx: PlayContext, step: DeployStep): Promise<string[][]> {
  const target = await targetOfRoles(ctx, step);
  if (target === null) return [];
  const restarts = (await providerPlan(ctx, { op: 'deploy', target }))
    .filter((change) => change.resource === 'process' && change.action === 'restart')
    .map((change) => change.subject);
  return chunk(restarts, batchSize(step.args.batch, restarts.length));
}

export const deploy = defineKind({
  kind: 'deploy',
  args: orEmpty(DeploySchema),
  hint: 'deploy takes roles, version, batch (N or N%), health (true/false), bundle_dir and build.',
  example: {},
  defaultName: (args) =>
    `deploy${args.version ? ` ${args.version}` : ''}${args.roles ? ` (${args.roles.join(', ')})` : ''}`,
  timeout: '60s',
  needsFleet: false,
  async plan(ctx, step) {
    const remoteProvider = remote(ctx);
    if (remoteProvider) return planRemote(ctx, step, remoteProvider);
    const batches = await localBatches(ctx, step);
    return batches.map((batch, i) => `batch ${i + 1}/${batches.length}: restart ${batch.join(', ')}`);
  },
  async run(ctx, step, timeoutMs) {
    const remoteProvider = remote(ctx);
    if (remoteProvider) {
      const result = await remoteDeploy(ctx, step, remoteProvider, timeoutMs);
      const changes = deployChanges(result);
      if (!result.ok) {
        const bad = result.hosts.filter((h) => !h.ok);
        throw new UserError(
          `deploy ${result.version} failed on ${bad.map((h) => `${h.host} (${h.status}${h.error ? `: ${h.error.split('\n')[0]}` : ''})`).join(', ')}${
            result.stoppedAtBatch ? `; stopped at batch ${result.stoppedAtBatch}, which was rolled back` : ''
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
        detail: `release ${result.version} on ${result.hosts.length} host(s)`,
      };
    }
    if (step.args.version) {
      ctx.events.emit({
        type: 'warn',
        message: `deploy: the local fleet runs this working tree; version ${step.args.version} is not applied`,
        hint: 'Locally a deploy is a rolling restart by batches with health checks.',
      });
    }
    const batches = await localBatches(ctx, step);
    const changes: string[] = [];
    for (const [i, batch] of batches.entries()) {
      if (ctx.signal?.aborted)
        throw new UserError('interrupted', { code: 'GOD_INTERRUPTED', hint: 'Run the play again.' });
      await restartOp({
        provider: ctx.provider,
        ids: batch,
        wait: waitOpts(ctx, timeoutMs, step.args.health),
        events: ctx.events,
      });
      changes.push(`batch ${i + 1}/${batches.length}: restarted ${batch.join(', ')}`);
    }
    return { changed: changes.length > 0, changes, detail: `${batches.flat().length} process(es) restarted` };
  },
});
