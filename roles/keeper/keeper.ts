// The keeper role: archive every log line, alert on silence and exceptions, publish the endpoint list.
import { UserError } from '../runtime/errors.ts';
import type { RoleDefinition } from '../runtime/role.ts';
import { ArchiveOutageMonitor } from './archive-alert.ts';
import { Archiver } from './archiver.ts';
import { auditArchive } from './audit-archive.ts';
import { EndpointListWriter } from '../../protocol/endpoint-list-writer.ts';
import { PromTargetsWriter } from '../../protocol/prom-targets.ts';
import { ExceptionMonitor } from './exceptions.ts';
import { GroupBacklog, keeperReady, wireKeeperMetrics } from './metrics.ts';
import { Notifier } from './notifier.ts';
import { checkKeeperConfig, keeperOptions } from './options.ts';
import { SilenceMonitor } from './silence.ts';
import { defaultSpoolDir, Spool } from './spool.ts';
import { openTarget, parseArchiveUrl } from '../../protocol/archive-target.ts';

/** Lines per second over the last few seconds. */
class RateMeter {
  private samples: Array<[number, number]> = [];
  constructor(private readonly count: () => number) {}
  rate(): number {
    const now = Date.now();
    this.samples.push([now, this.count()]);
    while (this.samples.length > 2 && now - this.samples[0]![0] > 10_000) this.samples.shift();
    const [t0, c0] = this.samples[0]!;
    return now > t0 ? Math.round(((this.count() - c0) * 1000) / (now - t0)) : 0;
  }
}

export const keeperRole: RoleDefinition<typeof keeperOptions> = {
  role: 'keeper',
  description:
    'Archives every log line of the fleet (S3 or a folder), alerts on silence (SMS) and exceptions (email), publishes endpoints.json',
  options: keeperOptions,
  async main(ctx) {
    const c = ctx.config;
    const { log } = ctx;
    checkKeeperConfig(c);
    const parsed = parseArchiveUrl(c.archive);
    const target = openTarget(c.archive);
    try {
      await target.probe();
    } catch (err) {
      if (parsed.kind === 'file') {
        throw new UserError(
          `keeper: cannot write to the archive folder ${parsed.dir}: ${(err as Error).message}`,
          {
            code: 'FG_KEEPER_ARCHIVE',
            hint: 'Create the folder or fix its permissions, or pass another --archive file://DIR.',
          },
        );
      }
      // S3 may come back; meanwhile objects are spooled
      log.warn(
        { err: (err as Error).message, target: target.url },
        'archive not reachable at start; spooling until it is',
      );
    }

    const spoolDir = c.spoolDir ?? defaultSpoolDir(ctx.id);
    const spool = new Spool(spoolDir, c.spoolMax);
    const notifier = new Notifier({
      log,
      redis: ctx.redis,
      keys: ctx.keys,
      keeperId: ctx.id,
      smsTo: c.alertSms,
      emailTo: c.alertEmail,
      emailFrom: c.emailFrom,
    });
    let archiver: Archiver | undefined;
    const silenceCheckMs = Math.min(1000, Math.max(50, c.silence / 4));
    const silence = new SilenceMonitor({
      redis: ctx.redis,
      keys: ctx.keys,
      silenceMs: c.silence,
      checkEveryMs: silenceCheckMs,
      notifier,
      log,
      upToDate: () => Boolean(archiver?.caughtUp && !archiver.backpressured),
    });
    const exceptions = new ExceptionMonitor({
      redis: ctx.redis,
      keys: ctx.keys,
      windowMs: c.exceptionWindow,
      maxEmails: c.exceptionMaxEmails,
      notifier,
      log,
    });
    archiver = new Archiver({
      redis: ctx.redis,
      reader: ctx.connect('reader', { offlineQueue: false }),
      keys: ctx.keys,
      consumer: ctx.id,
      target,
      spool,
      batch: c.batch,
      flushMs: c.flush,
      claimIdleMs: c.claimIdle,
      log,
      onEntries: (entries) => {
        silence.observe(entries);
        exceptions.observe(entries);
      },
    });
    await archiver.start();
    for (const r of spool.rejected) {
      log.warn(
        { file: `${r.file}.bad`, reason: r.reason },
        'a spool file was set aside, not uploaded: it is not an object this keeper wrote',
      );
    }
    const outage = new ArchiveOutageMonitor({
      thresholdMs: c.archiveAlertAfter,
      notifier,
      log,
      target: target.url,
      keeperId: ctx.id,
      failing: () => archiver.failing,
      down: () => archiver.targetDown,
      spool: () => ({
        objects: spool.size,
        bytes: spool.bytes,
        entries: spool.entries,
        dir: spool.dir,
        maxBytes: spool.maxBytes,
      }),
    });
    const endpoints = new EndpointListWriter({
      redis: ctx.redis,
      keys: ctx.keys,
      target,
      intervalMs: c.endpointsInterval,
      log,
    });

    // periodic work, each in its own loop so a slow SNS call does not delay the endpoint list
    const loops: Promise<void>[] = [];
    const every = (name: string, ms: number, fn: () => Promise<void>) => {
      loops.push(
        (async () => {
          let fails = 0;
          while (!ctx.signal.aborted) {
            try {
              await fn();
              fails = 0;
            } catch (err) {
              if (fails++ % 30 === 0) log.warn({ err: (err as Error).message }, `${name} failed; retrying`);
            }
            await new Promise<void>((r) => {
              const done = () => {
                clearTimeout(t);
                ctx.signal.removeEventListener('abort', done);
                r();
              };
              const t = setTimeout(done, ms);
              ctx.signal.addEventListener('abort', done, { once: true });
            });
          }
        })(),
      );
    };
    every('silence check', silenceCheckMs, () => silence.tick());
    every('exception alerts', Math.min(1000, Math.max(50, c.exceptionWindow / 10)), () => exceptions.tick());
    every('archive outage', Math.min(1000, Math.max(50, c.archiveAlertAfter / 4)), () => outage.tick());
    every('endpoint list', Math.min(1000, c.endpointsInterval), () => endpoints.tick());
    every('audit archive', c.flush, auditArchive({ ...ctx, target, keeperId: ctx.id }));
    // Prometheus targets next to endpoints.json, as often (heartbeats come and go every 2 s)
    const promTargets = new PromTargetsWriter({ redis: ctx.redis, keys: ctx.keys, target });
    every(
      'prometheus targets',
      Math.min(1000, c.endpointsInterval),
      async () => void (await promTargets.tick()),
    );
    if (ctx.metrics) {
      const backlog = new GroupBacklog(ctx.redis, ctx.keys);
      wireKeeperMetrics(ctx.metrics, { archiver, notifier, spool }, backlog);
      every('group backlog', 5000, () => backlog.read());
    }

    const meter = new RateMeter(() => archiver.archived);
    log.info(
      {
        archive: target.url,
        spool: spoolDir,
        sms: c.alertSms ?? 'log only',
        email: c.alertEmail ?? 'log only',
        silence_ms: c.silence,
        flush_ms: c.flush,
        batch: c.batch,
      },
      'keeper running',
    );

    return {
      ready: () => keeperReady(archiver, target.url),
      async stop() {
        await archiver.stop();
        await Promise.all(loops);
        notifier.close();
        target.close();
      },
      summary: () => ({
        totals: { archived: archiver.archived, objects: archiver.objects, alerts: notifier.sent },
        now: { pending: archiver.pending, spool_bytes: spool.bytes },
      }),
      gauges: () => ({
        lines_per_s: meter.rate(),
        archived_total: archiver.archived,
        pending: archiver.pending,
        spool_bytes: spool.bytes,
        alerts_sent: notifier.sent,
        objects_total: archiver.objects,
        trimmed_total: archiver.trimmed,
      }),
    };
  },
};
