// `god demo` (`npm run demo`): the whole system on this machine with simulated clients, in the dashboard;
// `--headless` (or no TTY, or CI) runs it for `--duration` and prints a summary — usable in CI.
import { intFrom } from '../../../kernel/flags.ts';
import { durationMs } from '../../../kernel/units.ts';
import { EventBus } from '../../core/events.ts';
import { startFeeds } from '../../tui/adapters/index.ts';
import { downFlags } from '../../core/drain.ts';
import { roleSettings } from '../../core/process-options.ts';
import { watchSource } from '../../core/watch.ts';
import { coreActions, watchAction } from '../../tui/core-actions.ts';
import { openDashboard } from '../../tui/open.ts';
import { DashboardStore } from '../../tui/store.ts';
import { Demo, type DemoSummary } from '../../demo/demo.ts';
import type { CliContext } from '../context.ts';
import { defineCommand } from '../spec.ts';
import { table } from '../output.ts';
import { wantsInk } from './dashboard.ts';

/** headless without --duration: long enough for every process to beat and the ranking to move */
const HEADLESS_DURATION = '30s';

function renderSummary(ctx: CliContext, summary: DemoSummary): string[] {
  const style = (text: string, ...styles: Parameters<CliContext['out']['style']>[1][]) =>
    ctx.out.style(text, ...styles);
  const up = summary.processes.filter((p) => p.state === 'up').length;
  return [
    style(`demo summary (${summary.seconds} s)`, 'bold'),
    `processes   ${up}/${summary.processes.length} up`,
    ...table(
      summary.processes.map((p) => [
        `  ${p.role}`,
        p.id,
        p.state === 'up' ? style('up', 'green') : style(p.state, 'red'),
        p.pid ? `pid ${p.pid}` : '-',
        p.cpu === null ? '-' : `${p.cpu.toFixed(1)}% cpu`,
      ]),
    ),
    `clients     ${summary.clients.connected}/${summary.clients.target} connected (${summary.clients.on_endpoints} on the endpoints); ${summary.clients.joined} joined, ${summary.clients.left} left, ${summary.clients.switches} switches, ${summary.clients.redirects} redirects`,
    `tweets/s    feeder ${summary.tweets.feeder_per_s} in, ${summary.tweets.matched_per_s} matched; clients received ${summary.tweets.delivered_per_s}/s (${summary.tweets.delivered_total} in all)`,
    'top movies',
    ...table(
      summary.top_movies.map((m, i) => [`  ${i + 1}.`, m.title, String(m.count), `${m.watching} watching`]),
    ),
    `archived    ${summary.archived_lines} log lines → ${summary.archive}${summary.state_dir ? '' : ' (temporary, removed)'}`,
    summary.ok ? style('ok', 'green') : style(`problems: ${summary.problems.join('; ')}`, 'red'),
  ];
}

export const demoCommand = defineCommand({
  options: {
    headless: {
      flag: '--headless',
      env: 'GOD_DEMO_HEADLESS',
      description:
        'no dashboard: run for --duration, print progress and a summary (also when not a TTY / CI)',
      default: false,
    },
    duration: {
      flag: '--duration <duration>',
      env: 'GOD_DEMO_DURATION',
      description: `headless: how long to run (default ${HEADLESS_DURATION}); dashboard: quit by itself after this long`,
      schema: durationMs.optional(),
    },
    clients: {
      flag: '--clients <n>',
      env: 'GOD_DEMO_CLIENTS',
      description: 'simulated mobile clients',
      schema: intFrom(0),
      default: '40',
    },
    rate: {
      flag: '--rate <n>',
      env: 'GOD_DEMO_RATE',
      description: 'synthetic tweets per second into the feeder',
      schema: intFrom(1),
      default: '200',
    },
    catalogSize: {
      flag: '--catalog-size <n>',
      env: 'GOD_DEMO_CATALOG_SIZE',
      description: 'movies of the bundled catalog (data/movies.json) the feeder knows; 0 = all',
      schema: intFrom(0),
      default: '0',
    },
  },
  async run(ctx, _args, opts) {
    const { clients, rate, catalogSize } = opts;
    const headless = opts.headless || !wantsInk(ctx);
    const duration = opts.duration ?? (headless ? durationMs.parse(HEADLESS_DURATION) : undefined);
    // headless: God's events are printed as usual; on the dashboard they go to its panes only
    const events = headless ? ctx.events : new EventBus();
    const demo = new Demo({ clients, rate, catalogSize, stateDir: ctx.opts.stateDir, events });
    const stopped = new Promise<void>((resolve) =>
      ctx.signal.addEventListener('abort', () => resolve(), { once: true }),
    );
    /** the duration runs from when the fleet is up (slow starts on a busy machine do not eat it) */
    const timeUp = () =>
      duration === undefined
        ? stopped
        : Promise.race([stopped, new Promise<void>((r) => setTimeout(r, duration).unref())]);
    try {
      await demo.start();
      if (headless) {
        await demo.ready(120_000, ctx.signal);
        const progress = setInterval(async () => {
          const summary = await demo.summary().catch(() => undefined);
          if (!summary) return;
          const up = summary.processes.filter((p) => p.state === 'up').length;
          ctx.out.item(
            'progress',
            {
              seconds: summary.seconds,
              up,
              processes: summary.processes.length,
              clients: summary.clients.connected,
              tweets_per_s: summary.tweets.feeder_per_s,
              top: summary.top_movies[0]?.title ?? null,
            },
            `${String(summary.seconds).padStart(4)} s  ${up}/${summary.processes.length} up · ${summary.clients.connected} clients · ${summary.tweets.feeder_per_s} tweets/s · top: ${summary.top_movies[0]?.title ?? '-'}`,
          );
        }, 5000);
        await timeUp();
        clearInterval(progress);
        const summary = await demo.summary();
        ctx.out.result('demo', summary, (result) => renderSummary(ctx, result), summary.ok);
        return summary.ok ? 0 : 1;
      }
      const store = new DashboardStore();
      store.fleet.setSettings(roleSettings(demo.config));
      const feeds = startFeeds(store, { fleetRedis: demo.fleetRedis, provider: demo.provider, events });
      store.view.setNotice(
        `demo: ${clients} simulated clients, ${rate} synthetic tweets/s — q stops everything`,
      );
      const ui = openDashboard({
        store,
        actions: coreActions({
          provider: demo.provider,
          config: demo.config,
          fleetRedis: demo.fleetRedis,
          events,
          down: downFlags({}, ctx.env),
          watch: watchAction(() =>
            watchSource({
              archive: demo.config.roles.keeper.options.archive,
              baseDir: process.cwd(),
              provider: demo.provider,
            }),
          ),
        }),
      });
      await Promise.race([ui, timeUp()]);
      await feeds.stop();
      store.close();
      return 0;
    } finally {
      await demo.stop();
    }
  },
});
