// Ready means serving: what `up` does with its new instances once they are `running`. Each goes through the
// steps below (host key pinned, SSH open, the current release deployed by `god deploy`'s own code with the
// role started, its health: a heartbeat with the release's version and, for an endpoint, a protocol
// connect → set_movies); only then is it tagged ready and, an endpoint, published in endpoints.json. An
// instance failing a step is reported with the step and what to do next, and terminated or kept
// (ec2.ready.on_failure); the others go on.
import { CreateTagsCommand, type Instance } from '@aws-sdk/client-ec2';
import type { ArchiveTarget } from '../../../../protocol/archive-target.ts';
import type { Role } from '../../../../protocol/redis-contract.ts';
import { UserError } from '../../../../kernel/errors.ts';
import { sleep } from '../../../../kernel/sleep.ts';
import { durationMs } from '../../../../kernel/units.ts';
import { deploy } from '../../deploy/deploy.ts';
import type { DeployHost, HostResult, ProcessMode } from '../../deploy/types.ts';
import { errorFields, mapLimit } from '../../deploy/util.ts';
import { connectFleetRedis } from '../../redis.ts';
import { SshConnection } from '../../ssh/connection.ts';
import { KnownHosts } from '../../ssh/known-hosts.ts';
import type { SshPool } from '../../ssh/pool.ts';
import { defaultKnownHosts, type SshOptions } from '../../ssh/types.ts';
import { awsError, type Ec2Ctx } from './context.ts';
import { hostKeyMismatch, pinHostKey } from './host-keys.ts';

/** Tag of an instance that passed every step: the release it was made ready with. `up` skips such instances. */
export const READY_TAG = 'god:ready';

/** The steps, in order; a failure names the one it failed at. */
export const READY_STEPS = ['host key', 'ssh', 'deploy', 'health', 'publish'] as const;
export type ReadyStep = (typeof READY_STEPS)[number];

export interface ReadyFailure {
  id: string;
  step: ReadyStep;
  error: string;
  /** what to do next */
  hint: string;
  /** still running (on_failure: keep) */
  kept: boolean;
}

export interface ReadyDeps {
  ctx: Ec2Ctx;
  role: Role;
  pool: SshPool;
  ssh: SshOptions;
  env: NodeJS.ProcessEnv;
  /** where God reaches an instance (its address, or the mapped one) */
  hostOf: (i: Instance) => DeployHost | undefined;
  terminate: (ids: string[]) => Promise<void>;
  pollMs: number;
}

export const isReady = (i: Instance) => !!i.Tags?.some((t) => t.Key === READY_TAG);

const fail = (id: string, step: ReadyStep, err: unknown, hint?: string) => {
  const f = errorFields(err);
  return { id, step, error: f.error, hint: hint ?? f.hint ?? 'See the error above.' };
};

/** Make `instances` (running, not yet ready) serve; returns the ids now ready and the failures. */
export async function makeReady(
  d: ReadyDeps,
  instances: Instance[],
): Promise<{ ready: string[]; failed: ReadyFailure[] }> {
  const { ctx } = d;
  const keep = ctx.ec2c.ready.on_failure === 'keep';
  const failed: Array<Omit<ReadyFailure, 'kept'>> = [];
  const hosts = new Map<string, DeployHost>();
  const known = new KnownHosts(d.ssh.knownHostsPath ?? defaultKnownHosts());
  /** spared whatever on_failure says (see below) */
  const spare = new Set<string>();

  // 1. host key: pinned before God ever connects
  for (const i of instances) {
    const id = i.InstanceId!;
    const host = d.hostOf(i);
    if (!host) {
      failed.push(
        fail(
          id,
          'ssh',
          new Error(`${id} has no IP address`),
          'Give the instances a public IP (ec2.public_ip) or reach them through a bastion.',
        ),
      );
      continue;
    }
    if (ctx.ec2c.host_keys === 'pin') {
      const r = pinHostKey(known, i, { address: host.address, port: host.port ?? 22 });
      if (!r.pinned) {
        spare.add(id);
        failed.push(
          fail(
            id,
            'host key',
            new Error(
              `${id} carries no host key made by God (tag god:host-key): it was not launched by \`god up\``,
            ),
            `Kept as it is. Replace it (god down --id ${id}, then \`god up\`), or set ec2.host_keys: accept-new to trust its key on first use.`,
          ),
        );
        continue;
      }
      ctx.events.emit({
        type: 'info',
        message: `pinned the host key of ${id} (${r.fingerprint}) for ${host.address}:${host.port ?? 22}`,
      });
    }
    hosts.set(id, host);
  }

  // 2. SSH open (bounded, with progress)
  const sshOk: string[] = [];
  await mapLimit([...hosts.entries()], 10, async ([id, host]) => {
    try {
      await waitSsh(d, id, host, keep);
      sshOk.push(id);
    } catch (err) {
      const code = err instanceof UserError ? err.code : undefined;
      const hostKey = code === 'GOD_SSH_HOSTKEY' || code === 'GOD_SSH_HOSTKEY_UNKNOWN';
      failed.push(fail(id, hostKey ? 'host key' : 'ssh', err));
    }
  });

  // 3-4. deploy + start + health: `god deploy`'s own code, each host on its own
  const ready: string[] = [];
  if (sshOk.length) {
    const results = await deployTo(
      d,
      sshOk.map((id) => hosts.get(id)!),
    ).catch((err) => err as Error);
    for (const id of sshOk) {
      const r = results instanceof Error ? undefined : results.hosts.find((h) => h.host === id);
      if (r?.ok) ready.push(id);
      else if (results instanceof Error) {
        // the deploy never started (its lock is held, no release): nothing is wrong with the host
        spare.add(id);
        failed.push(
          fail(
            id,
            'deploy',
            results,
            `${results instanceof UserError && results.hint ? `${results.hint} ` : ''}Then run \`god up\` again: it deploys to the instances kept.`,
          ),
        );
      } else failed.push(deployFailure(id, r));
    }
    if (ready.length && !(results instanceof Error)) {
      try {
        await ctx.ec2.send(
          new CreateTagsCommand({ Resources: ready, Tags: [{ Key: READY_TAG, Value: results.version }] }),
        );
      } catch (err) {
        throw awsError(err, `tag ${ready.join(', ')} ready`);
      }
    }
  }

  // 5. only now may clients be sent to the new endpoints
  if (d.role === 'endpoint' && ready.length) {
    try {
      const detail = await publishEndpoints(d);
      ctx.events.emit({ type: 'info', message: `published endpoints.json: ${detail}` });
    } catch (err) {
      for (const id of ready.splice(0))
        failed.push(
          fail(
            id,
            'publish',
            err,
            'The endpoints serve but clients do not know them yet: fix the archive target (roles.keeper.options.archive), then run a playbook with a publish_endpoints step, or let the keeper publish them.',
          ),
        );
    }
  }

  // never terminated whatever on_failure says: an endpoint that serves (the list could not be written), an
  // instance God did not launch with a key (an older God's, or someone else's: it may well be serving), and
  // hosts a deploy that never started did not reach
  const spared = (f: Omit<ReadyFailure, 'kept'>) => f.step === 'publish' || spare.has(f.id);
  const out: ReadyFailure[] = failed.map((f) => ({ ...f, kept: keep || spared(f) }));
  for (const f of out)
    ctx.events.emit({
      type: 'error',
      message: `${f.id} failed at ${f.step}: ${f.error}${f.kept ? ' (kept running)' : ' (terminating it)'}`,
      hint: f.hint,
    });
  const doomed = out.filter((f) => !f.kept).map((f) => f.id);
  if (doomed.length) await d.terminate(doomed);
  return { ready, failed: out };
}

/** Connect until the host answers SSH with the pinned key, or ready.ssh_timeout has passed. */
async function waitSsh(d: ReadyDeps, id: string, host: DeployHost, keep: boolean): Promise<void> {
  const wait = d.ctx.ec2c.ready.ssh_timeout;
  const timeoutMs = durationMs.parse(wait);
  const t0 = Date.now();
  const ev = (phase: 'start' | 'progress' | 'end', extra: Record<string, unknown> = {}) =>
    d.ctx.events.emit({ type: 'host', step: 'ssh', host: id, phase, ...extra });
  ev('start', { detail: `${host.address}:${host.port ?? 22}`, progress: 0 });
  let last = '';
  for (let attempt = 1; ; attempt++) {
    const left = timeoutMs - (Date.now() - t0);
    try {
      const conn = await SshConnection.connect(host, {
        ...d.ssh,
        connectTimeoutMs: Math.max(1000, Math.min(d.ssh.connectTimeoutMs ?? 10_000, left)),
      });
      conn.close();
      ev('end', { ok: true, ms: Date.now() - t0, detail: `open after ${attempt} attempt(s)` });
      return;
    } catch (err) {
      const code = err instanceof UserError ? err.code : undefined;
      if (code === 'GOD_SSH_HOSTKEY' && d.ctx.ec2c.host_keys === 'pin') {
        ev('end', { ok: false, ms: Date.now() - t0, error: 'host key mismatch' });
        throw hostKeyMismatch(id, err as UserError, keep);
      }
      if (code === 'GOD_SSH_HOSTKEY' || code === 'GOD_SSH_HOSTKEY_UNKNOWN' || code === 'GOD_SSH_AUTH') {
        ev('end', { ok: false, ms: Date.now() - t0, error: (err as Error).message });
        throw err;
      }
      last = (err as Error).message;
    }
    const spent = Date.now() - t0;
    if (spent >= timeoutMs) {
      ev('end', { ok: false, ms: spent, error: last });
      throw new UserError(
        `${id} did not open SSH at ${host.address}:${host.port ?? 22} within ${wait} (last: ${last})`,
        {
          code: 'GOD_EC2_TIMEOUT',
          hint: keep
            ? `Look at ${id}'s console output (aws ec2 get-console-output --instance-id ${id}) and its security group (SSH from ec2.access.ssh_cidrs), then run \`god up\` again.`
            : `${id} was terminated; check the security group (SSH from ec2.access.ssh_cidrs) and the image, or raise ec2.ready.ssh_timeout, then run \`god up\` again.`,
        },
      );
    }
    ev('progress', { progress: Math.min(1, spent / timeoutMs), detail: `attempt ${attempt}: ${last}` });
    await sleep(Math.min(d.pollMs, timeoutMs - spent));
  }
}

/** `god deploy` of the current release (GOD_BUNDLE_DIR / GOD_VERSION, as for `god deploy`) to `hosts`. */
async function deployTo(d: ReadyDeps, hosts: DeployHost[]) {
  const c = d.ctx.config;
  const fr = await connectFleetRedis(c.redis.url, {
    prefix: c.redis.prefix,
    tlsCa: c.redis.tls_ca,
    name: 'god:up',
  });
  try {
    return await deploy({
      hosts,
      ssh: d.ssh,
      pool: d.pool,
      redis: fr.redis,
      keys: fr.keys,
      bundleDir: d.env.GOD_BUNDLE_DIR,
      version: d.env.GOD_VERSION,
      mode: (d.env.GOD_PROCESS_MODE as ProcessMode | undefined) ?? 'auto',
      healthTimeoutMs: durationMs.parse(d.ctx.ec2c.ready.health_timeout),
      independent: true,
      events: d.ctx.events,
      owner: 'god up',
    });
  } finally {
    fr.close();
  }
}

function deployFailure(id: string, r: HostResult | undefined): Omit<ReadyFailure, 'kept'> {
  if (!r) return fail(id, 'deploy', new Error('not in the deploy result'));
  const step: ReadyStep = r.code === 'GOD_DEPLOY_HEALTH' ? 'health' : 'deploy';
  return {
    id,
    step,
    error: r.error ?? r.status,
    hint:
      step === 'health'
        ? `The role started but is not healthy: \`god logs --host ${id}\` shows why; fix the release and run \`god up\` again.`
        : (r.hint ?? `Run \`god deploy\` by hand to see more, then \`god up\` again.`),
  };
}

/** Write endpoints.json (the keeper's archive target, and Redis) from the registry now. */
async function publishEndpoints(d: ReadyDeps): Promise<string> {
  const c = d.ctx.config;
  const fr = await connectFleetRedis(c.redis.url, {
    prefix: c.redis.prefix,
    tlsCa: c.redis.tls_ca,
    name: 'god:up',
  });
  const { EndpointListWriter } = await import('../../../../protocol/endpoint-list-writer.ts');
  const { openTarget } = await import('../../../../protocol/archive-target.ts');
  const archive = c.roles.keeper.options.archive;
  // no keeper archive: the list goes to Redis only (where the keeper and `god endpoints` read it)
  const target: ArchiveTarget = archive
    ? openTarget(archive, d.env)
    : { url: `redis ${fr.keys.endpointList}`, put: async () => {}, probe: async () => {}, close() {} };
  try {
    const writer = new EndpointListWriter({
      redis: fr.redis,
      keys: fr.keys,
      target,
      intervalMs: 0,
      log: { info() {}, warn() {} },
    });
    await writer.tick();
    if (!writer.current) throw new Error(`could not write endpoints.json to ${archive}`);
    // the Prometheus targets go with it (protocol/prom-targets.ts), as the keeper's timer writes them
    const { PromTargetsWriter } = await import('../../../../protocol/prom-targets.ts');
    await new PromTargetsWriter({ redis: fr.redis, keys: fr.keys, target }).tick();
    return `${writer.current.endpoints.map((e) => `${e.host}:${e.port}`).join(', ') || 'no endpoints'} → ${archive ?? 'Redis only (no keeper archive configured)'}`;
  } finally {
    target.close();
    fr.close();
  }
}
