// `god watch MOVIE`: a movie's live feed as a user sees it, received through a real endpoint (god/core/watch.ts);
// one line per tweet with its author and delay, NDJSON with --json. Runs until Ctrl-C, --count or --duration.
import { intFrom } from '../../../kernel/flags.ts';
import { durationMs } from '../../../kernel/units.ts';
import { delayText, MovieWatch, watchSource } from '../../core/watch.ts';
import { defineCommand } from '../spec.ts';

export const watchCommand = defineCommand({
  options: {
    count: {
      flag: '--count <n>',
      env: 'GOD_WATCH_COUNT',
      description: 'stop after this many tweets (default: until Ctrl-C)',
      schema: intFrom(1).optional(),
    },
    duration: {
      flag: '--duration <duration>',
      env: 'GOD_DURATION',
      description: 'stop after this long (default: until Ctrl-C)',
      schema: durationMs.optional(),
    },
  },
  async run(ctx, [query], opts) {
    const { config, baseDir } = ctx.loaded;
    const source = await watchSource({
      archive: config.roles.keeper.options.archive,
      baseDir,
      provider: await ctx.provider(),
      fleetRedis: () => ctx.redis(),
    });
    let stop!: () => void;
    const done = new Promise<void>((r) => (stop = r));
    const limit = opts.count ?? Number.POSITIVE_INFINITY;
    const watch: MovieWatch = new MovieWatch({
      source,
      movie: query!,
      onEvent: (ev) => {
        switch (ev.kind) {
          case 'tweet': {
            // a burst (the feed's history) may bring more in one read than --count asks for
            if (watch.tweets > limit) return;
            const t = ev.tweet;
            const time = t.received_at.slice(11, 19);
            ctx.out.item(
              'tweet',
              { ...t },
              `${time} ${ctx.out.style(`@${t.author}`, 'cyan')} ${ctx.out.style(`+${delayText(t.delay_ms)}${t.history ? ' (history)' : ''}`, 'gray')}  ${t.text.replace(/\s+/g, ' ')}`,
            );
            if (watch.tweets >= limit) stop();
            return;
          }
          case 'connected':
            return ctx.events.emit({ type: 'info', message: `connected to ${ev.endpoint}` });
          case 'redirect':
            return ctx.events.emit({ type: 'info', message: `redirected to ${ev.to} (${ev.reason})` });
          case 'disconnected':
            return ctx.events.emit({
              type: 'warn',
              message: `lost ${ev.endpoint} (${ev.reason}); reconnecting`,
            });
          case 'feed_started':
            return;
        }
      },
    });
    const movie = await watch.start();
    ctx.events.emit({ type: 'info', message: `watching ${movie.title} (id ${movie.id}); Ctrl-C stops` });
    const t = opts.duration !== undefined ? setTimeout(stop, opts.duration) : undefined;
    ctx.signal.addEventListener('abort', () => stop(), { once: true });
    try {
      await done;
    } finally {
      clearTimeout(t);
      watch.close();
    }
    ctx.out.result('watch', { movie, tweets: Math.min(watch.tweets, limit) }, (d) => [
      `${d.tweets} tweet(s) of ${d.movie.title}`,
    ]);
    return 0;
  },
});
