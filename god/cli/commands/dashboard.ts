// `god dashboard` (and `god` alone on a terminal): the live dashboard over the same services as the CLI.
// Not a TTY, or CI set, or --plain: no Ink — the same feeds as plain lines, or NDJSON with --json.
import { resolveOptions } from '../../../kernel/options.ts';
import { durationMs } from '../../../kernel/units.ts';
import { deploy } from '../../core/deploy/deploy.ts';
import { downFlags } from '../../core/drain.ts';
import { isRemoteProvider } from '../../core/providers/types.ts';
import { startFeeds } from '../../tui/adapters/index.ts';
import { roleSettings } from '../../core/process-options.ts';
import { watchSource } from '../../core/watch.ts';
import { coreActions, shellAction, watchAction } from '../../tui/core-actions.ts';
import { HeadlessPrinter } from '../../tui/headless.ts';
import { openDashboard } from '../../tui/open.ts';
import { DashboardStore } from '../../tui/store.ts';
import type { CliContext } from '../context.ts';
import { defineCommand } from '../spec.ts';
import { COMMON_OPTIONS, remoteRunOptions } from './deploy.ts';

/** Whether the dashboard may take over the terminal (`plain`: --plain asked for lines). */
export function wantsInk(ctx: CliContext, plain = false): boolean {
  const ci = ctx.env.CI !== undefined && ctx.env.CI !== '' && ctx.env.CI !== '0' && ctx.env.CI !== 'false';
  return !!process.stdout.isTTY && !!process.stdin.isTTY && !ci && !ctx.opts.json && !plain;
}

/** `d` in the dashboard: what `god deploy` does with its defaults (and GOD_BATCH), for ssh/ec2 fleets. */
function deployAction(ctx: CliContext) {
  return async (): Promise<{ ok: boolean; error?: string }> => {
    const defaults = resolveOptions(COMMON_OPTIONS, {}).values;
    const r = await deploy({
      ...(await remoteRunOptions(ctx, defaults, 'deploy')),
      batch: ctx.env.GOD_BATCH,
    });
    const failed = r.hosts.filter((h) => !h.ok);
    return {
      ok: r.ok,
      error: r.ok
        ? undefined
        : `${failed.length} host(s) failed${r.stoppedAtBatch ? `; stopped at batch ${r.stoppedAtBatch} (rolled back)` : ''}: ${failed.map((h) => h.host).join(', ')}`,
    };
  };
}

export const dashboardCommand = defineCommand({
  options: {
    plain: {
      flag: '--plain',
      env: 'GOD_PLAIN',
      description: 'print the feeds as lines even on a terminal',
      default: false,
    },
    duration: {
      flag: '--duration <duration>',
      env: 'GOD_DURATION',
      description: 'without the dashboard: stop after this long (default: until Ctrl-C)',
      schema: durationMs.optional(),
    },
    readOnly: {
      flag: '--read-only',
      env: 'GOD_READ_ONLY',
      description:
        'look, do not touch: no key that changes the fleet (up, down, restart, deploy, shed) is shown or works',
      default: false,
    },
  },
  async run(ctx, _args, opts) {
    const { duration } = opts;
    const provider = await ctx.provider();
    const fleetRedis = await ctx.redis();
    const { config } = ctx.loaded;
    if (!wantsInk(ctx, opts.plain)) {
      const printer = new HeadlessPrinter({ item: (t, d, p) => ctx.out.item(t, d, p) });
      const feeds = startFeeds(printer.store, { fleetRedis, provider });
      await new Promise<void>((resolve) => {
        const t = duration !== undefined ? setTimeout(resolve, duration) : undefined;
        ctx.signal.addEventListener(
          'abort',
          () => {
            clearTimeout(t);
            resolve();
          },
          { once: true },
        );
      });
      await feeds.stop();
      printer.close();
      return 0;
    }
    const store = new DashboardStore();
    store.fleet.setSettings(roleSettings(config));
    // watching a movie changes nothing: offered read-only too
    const watch = watchAction(() =>
      watchSource({
        archive: config.roles.keeper.options.archive,
        baseDir: ctx.loaded.baseDir,
        provider,
        fleetRedis: async () => fleetRedis,
      }),
    );
    // events reach the screen through the store; printed to stderr they would tear the dashboard
    ctx.out.suspend();
    const feeds = startFeeds(store, { fleetRedis, provider, events: ctx.events });
    try {
      await openDashboard({
        store,
        // read-only: the services are not even handed to the dashboard, so no key can reach them
        actions: opts.readOnly
          ? { readOnly: true, watch }
          : coreActions({
              watch,
              provider,
              config,
              fleetRedis,
              events: ctx.events,
              deploy: isRemoteProvider(provider) ? deployAction(ctx) : undefined,
              shell: isRemoteProvider(provider) ? shellAction(provider) : undefined,
              down: downFlags({}, ctx.env),
            }),
      });
    } finally {
      await feeds.stop();
      store.close();
      ctx.out.resume();
    }
    return 0;
  },
});
