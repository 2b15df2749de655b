// The life of a role process: config, logs, Redis, heartbeat, control channel, graceful stop.
import type { Redis } from 'ioredis';
import {
  ControlMessageSchema,
  type ControlMessage,
  MAX_CONTROL_BYTES,
  type RedisContract,
  type Role,
  redisContract,
} from '../../protocol/redis-contract.ts';
import { type CommonConfig, type ConfigOf, commonOptions, type OptionsSpec, parseConfig } from './config.ts';
import {
  type AdminAddress,
  AdminServer,
  parseAdminListen,
  type ReadyChecks,
  resolveAdminToken,
} from './admin.ts';
import { formatUserError, UserError } from './errors.ts';
import { HeartbeatPublisher } from './heartbeat.ts';
import { logWaitReplicas, RedisLogSink } from './log-sink.ts';
import { createLogger, type Logger } from './logger.ts';
import { RoleMetrics } from './metrics.ts';
import { checkDeployment, connectFromConfig, type RedisConnectOptions, redactUrl } from './redis.ts';
import { Subscriber } from './subscriber.ts';
import { type RoleSummary, SummaryTimer } from './summary.ts';
import { builtVersion } from './version.ts';

export interface RoleContext<C> {
  role: Role;
  id: string;
  host: string;
  version: string;
  config: C & CommonConfig;
  log: Logger;
  keys: RedisContract;
  /** command connection; commands wait for a reconnect while Redis is down */
  redis: Redis;
  /** the process's one subscriber connection, created on first use */
  subscriber(): Subscriber;
  /** an extra connection (e.g. for blocking reads) */
  connect(name: string, extra?: Partial<RedisConnectOptions>): Redis;
  /** a handler that throws or rejects is logged as a warning; it never ends the process */
  onControl(handler: (msg: ControlMessage) => unknown): void;
  /** aborted when the role starts to stop */
  signal: AbortSignal;
  /** the role's Prometheus registry when the admin listener is on (--admin-listen), else undefined: roles
   * register their sources here and skip any metric-only work when it is absent */
  metrics?: RoleMetrics;
  /** the environment the role was started with (secrets a role reads from env only, never argv) */
  env: NodeJS.ProcessEnv;
}

export interface RoleInstance {
  /** graceful stop; the runtime enforces the deadline */
  stop(reason: string): Promise<void>;
  gauges?(): Record<string, number>;
  /** counters for the periodic summary line (summary.ts), which is also the role's sign of life */
  summary?(): RoleSummary;
  /** the role's own readiness checks for /readyz (Redis is checked by the runtime) */
  ready?(): ReadyChecks;
}

export interface RoleDefinition<S extends OptionsSpec> {
  role: Role;
  description: string;
  options: S;
  main(ctx: RoleContext<ConfigOf<S>>): Promise<RoleInstance>;
}

export interface RoleHandle<C> {
  ctx: RoleContext<C>;
  instance: RoleInstance;
  stop(reason?: string): Promise<void>;
}

export interface StartOptions {
  env?: NodeJS.ProcessEnv;
  stdout?: { write(s: string): unknown };
}

export async function startRole<S extends OptionsSpec>(
  def: RoleDefinition<S>,
  argv: string[],
  so: StartOptions = {},
): Promise<RoleHandle<ConfigOf<S>>> {
  const spec = { ...commonOptions, ...def.options };
  const config = parseConfig(def.role, spec, argv, so.env ?? process.env, {
    description: def.description,
  }) as ConfigOf<S> & CommonConfig;
  const id = config.id ?? `${def.role}-${config.hostName}-${process.pid}`;
  const host = config.hostName;
  const version = config.release ?? builtVersion();
  const keys = redisContract(config.prefix);
  // the admin listener's address and token are checked before anything connects: a bad one refuses to start
  const env = so.env ?? process.env;
  const adminListen = config.adminListen ? parseAdminListen(config.adminListen) : undefined;
  const adminToken = adminListen ? resolveAdminToken(adminListen, config.adminTokenFile, env) : undefined;
  const metrics = adminListen ? new RoleMetrics(def.role) : undefined;

  // a Cluster or an unknown Sentinel master ends the start here, with the problem named (FG_REDIS)
  const unreachable: string[] = [];
  await checkDeployment(config, (m) => unreachable.push(m));
  const resources: Array<{ close(): unknown }> = [];
  const logRedis = connectFromConfig(config, `${id}:logs`, { offlineQueue: false });
  resources.push({ close: () => logRedis.disconnect() });
  const sink = new RedisLogSink({
    redis: logRedis,
    stream: keys.logStream,
    role: def.role,
    id,
    host,
    waitReplicas: logWaitReplicas(config.redis),
  });
  const log = createLogger({ role: def.role, id, host, level: config.logLevel, sink, stdout: so.stdout });
  for (const m of unreachable) log.warn({ redis: redactUrl(config.redis) }, m);

  // e.g. every sentinel unreachable: said once per kind of failure (the retry delay in it changes), not per attempt
  let problem = '';
  const redis = connectFromConfig(config, id, {
    onProblem: (err) => {
      const kind = err.message.replace(/\d+/g, 'N');
      if (kind !== problem) log.warn({ err: err.message }, 'cannot reach Redis; retrying');
      problem = kind;
    },
    onStatus: (s, err) =>
      s === 'ready'
        ? log.info({ redis: redactUrl(config.redis) }, 'redis connected')
        : log.warn({ err: err?.message }, 'redis connection lost; reconnecting'),
  });
  resources.push({ close: () => redis.disconnect() });
  let sub: Subscriber | undefined;
  const abort = new AbortController();
  const controlHandlers: Array<(m: ControlMessage) => unknown> = [];
  let instance: RoleInstance | undefined;

  const ctx: RoleContext<ConfigOf<S>> = {
    role: def.role,
    id,
    host,
    version,
    config,
    log,
    keys,
    redis,
    subscriber() {
      if (!sub) {
        sub = new Subscriber(connectFromConfig(config, `${id}:sub`), (err, channel) =>
          log.warn({ err, channel }, 'a subscription handler failed; message ignored'),
        );
        resources.push(sub);
      }
      return sub;
    },
    connect(name, extra) {
      const r = connectFromConfig(config, `${id}:${name}`, extra);
      resources.push({ close: () => r.disconnect() });
      return r;
    },
    onControl(h) {
      controlHandlers.push(h);
    },
    signal: abort.signal,
    metrics,
    env,
  };

  // Anyone who can publish on Redis reaches the control channel: a bad message is dropped with a warning (at
  // most one a second, so a flood of them does not become a flood of logs), and no handler ends the process.
  let ignored = 0;
  let ignoredWarnAt = 0;
  const ignore = (problem: string, bytes: number) => {
    ignored++;
    const now = Date.now();
    if (now - ignoredWarnAt < 1000) return;
    ignoredWarnAt = now;
    log.warn(
      { problem: problem.slice(0, 300), bytes, ignored },
      'ignored a malformed control message (see protocol/redis-contract.ts ControlMessageSchema)',
    );
    ignored = 0;
  };
  const guarded = (what: string, f: () => unknown) => {
    try {
      const r = f();
      if (r instanceof Promise) r.catch((err) => log.warn({ err, control: what }, 'control handler failed'));
    } catch (err) {
      log.warn({ err, control: what }, 'control handler failed');
    }
  };
  const onControl = (buf: Buffer) => {
    if (buf.length > MAX_CONTROL_BYTES) {
      ignore(`longer than ${MAX_CONTROL_BYTES} bytes`, buf.length);
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(buf.toString());
    } catch (err) {
      ignore(`not JSON: ${(err as Error).message}`, buf.length);
      return;
    }
    const parsed = ControlMessageSchema.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      ignore(`${issue?.path.join('.') || 'message'}: ${issue?.message ?? 'invalid'}`, buf.length);
      return;
    }
    const msg = parsed.data;
    log.info({ control: msg }, 'control message');
    if (msg.cmd === 'log_level') guarded(msg.cmd, () => (log.level = msg.level));
    for (const h of controlHandlers) guarded(msg.cmd, () => h(msg));
    if (msg.cmd === 'stop') process.kill(process.pid, 'SIGTERM');
  };
  ctx.subscriber().on(keys.control(def.role, id), onControl);
  ctx.subscriber().on(keys.controlRole(def.role), onControl);

  let admin: AdminServer | undefined;
  let adminAt: AdminAddress | undefined;
  const heartbeat = new HeartbeatPublisher({
    admin: () => adminAt && advertised(adminAt, host),
    redis,
    keys,
    role: def.role,
    id,
    host,
    version,
    gauges: () => ({
      ...(instance?.gauges?.() ?? {}),
      log_dropped: sink.dropped,
      log_pending: sink.pending,
    }),
  });

  log.info({ version, redis: redactUrl(config.redis) }, `${def.role} starting`);
  try {
    instance = await def.main(ctx);
  } catch (err) {
    log.fatal({ err }, `${def.role} failed to start`);
    await sink.drain(1000);
    sink.close();
    for (const r of resources.reverse()) r.close();
    throw err;
  }
  if (adminListen && metrics) {
    admin = new AdminServer({
      listen: adminListen,
      token: adminToken,
      metrics,
      ready: () => ({
        ...runtimeReady(redis, sub),
        ...(instance?.ready?.() ?? {}),
        ...(abort.signal.aborted ? { stopping: { ok: false, why: 'the process is stopping' } } : {}),
      }),
      onError: (err) => log.warn({ err }, 'admin listener: a request failed'),
    });
    try {
      adminAt = await admin.start();
    } catch (err) {
      log.fatal({ err }, `${def.role} failed to start`);
      await instance.stop('admin listener failed').catch(() => {});
      await sink.drain(1000);
      sink.close();
      for (const r of resources.reverse()) r.close();
      throw err;
    }
    resources.push({ close: () => void admin?.close() });
    log.info({ admin: advertised(adminAt, host), token: adminToken ? 'set' : 'none' }, 'admin listener up');
  }
  heartbeat.start();
  const summary = new SummaryTimer({
    log,
    intervalMs: config.summaryInterval,
    collect: () => instance?.summary?.(),
  });
  summary.start();

  let stopping: Promise<void> | undefined;
  const stop = (reason = 'stop') =>
    (stopping ??= (async () => {
      abort.abort();
      summary.stop();
      log.info({ reason }, `${def.role} stopping`);
      const deadline = new Promise<'timeout'>((r) =>
        setTimeout(() => r('timeout'), config.stopTimeout).unref(),
      );
      const res = await Promise.race([instance!.stop(reason).then(() => 'ok' as const), deadline]).catch(
        (err) => {
          log.error({ err }, 'error while stopping');
          return 'error' as const;
        },
      );
      if (res === 'timeout') log.error({ timeout_ms: config.stopTimeout }, 'graceful stop timed out');
      await heartbeat.stop();
      log.info({ reason, result: res }, `${def.role} stopped`);
      await sink.drain(1500);
      sink.close();
      for (const r of resources.reverse()) r.close();
      if (res !== 'ok') throw new Error(`stop ${res}`);
    })());
  return { ctx, instance, stop };
}

/** Redis as /readyz sees it: the command connection ready, the subscriber connected with its channels. */
function runtimeReady(redis: Redis, sub: Subscriber | undefined): ReadyChecks {
  const r: ReadyChecks = {
    redis:
      redis.status === 'ready' ? { ok: true } : { ok: false, why: `redis connection is ${redis.status}` },
  };
  if (sub) {
    const s = sub.redis.status;
    r.redis_subscriber =
      s === 'ready'
        ? { ok: true }
        : { ok: false, why: `redis subscriber connection is ${s}, not subscribed` };
  }
  return r;
}

/** The address others scrape: a wildcard bind is reached through the host name. */
function advertised(a: AdminAddress, host: string): string {
  const h = a.host === '0.0.0.0' || a.host === '::' ? host : a.host;
  return h.includes(':') ? `[${h}]:${a.port}` : `${h}:${a.port}`;
}

/** Entry point of a role binary: start, stop on SIGTERM/SIGINT, log and exit non-zero on a crash. */
export async function runRole<S extends OptionsSpec>(
  def: RoleDefinition<S>,
  argv = process.argv.slice(2),
): Promise<void> {
  // Signals are handled from the very start: a SIGTERM during start-up stops the role once it is up.
  let handle: RoleHandle<ConfigOf<S>> | undefined;
  let pendingSignal: NodeJS.Signals | undefined;
  let signals = 0;
  const stopWith = (sig: NodeJS.Signals) =>
    handle!.stop(sig).then(
      () => process.exit(0),
      () => process.exit(1),
    );
  const onSignal = (sig: NodeJS.Signals) => {
    if (++signals > 1) {
      handle?.ctx.log.warn({ signal: sig }, 'second signal: exiting now');
      process.exit(130);
    }
    if (handle) void stopWith(sig);
    else pendingSignal = sig;
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  const crash = (err: unknown, kind: string) => {
    if (!handle) {
      process.stderr.write(
        `${def.role} crashed during start-up (${kind}): ${(err as Error)?.stack ?? String(err)}\n`,
      );
      process.exit(1);
    }
    handle.ctx.log.fatal({ err, kind }, `${def.role} crashed: ${(err as Error)?.message ?? String(err)}`);
    // give the log line a moment to reach Redis, then go; a supervisor restarts us
    const t = setTimeout(() => process.exit(1), 1500);
    t.unref();
    handle.stop('crash').finally(() => process.exit(1));
  };
  process.on('uncaughtException', (err) => crash(err, 'uncaughtException'));
  process.on('unhandledRejection', (err) => crash(err, 'unhandledRejection'));
  try {
    handle = await startRole(def, argv);
  } catch (err) {
    process.stderr.write(`${formatUserError(err)}\n`);
    process.exit(err instanceof UserError ? 2 : 1);
  }
  if (pendingSignal) void stopWith(pendingSignal);
}
