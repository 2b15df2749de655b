// `god logs [-f] [--role R] [--id ID] [--host H] [--level L] [--grep RE] [--since 3d] [--until 1h] [-n N] [--json]`.
// History older than the stream comes from the keeper's archive (core/logs-archive.ts).
import { UserError } from '../../../kernel/errors.ts';
import { ArchiveReader, keeperArchiveUrl } from '../../core/archive-reader.ts';
import { readHistory } from '../../core/logs-archive.ts';
import { lastLogId, type LogRecord, parseLogFilter, safeText, tailLogs } from '../../core/logs.ts';
import { intFrom } from '../../../kernel/flags.ts';
import type { CliContext } from '../context.ts';
import { defineCommand } from '../spec.ts';
import type { Style } from '../output.ts';

const LEVEL_STYLE: Record<string, Style[]> = {
  trace: ['gray'],
  debug: ['gray'],
  info: ['green'],
  warn: ['yellow'],
  error: ['red'],
  fatal: ['red', 'bold'],
};

export function renderLog(ctx: CliContext, r: LogRecord): string {
  // every string here came from the log stream: safeText before styling, so only our own escapes reach the terminal
  const s = (t: string, ...st: Style[]) => ctx.out.style(safeText(t), ...st);
  const time = r.at.length >= 23 ? r.at.slice(11, 23) : r.at;
  const extra = Object.entries(r.data)
    .filter(([k]) => k !== 'err' && k !== 'stack')
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  const err = r.data.err as { stack?: string; message?: string } | undefined;
  let line = `${s(time, 'gray')} ${s(`${r.id}@${r.host}`, 'cyan')} ${s(r.level.toUpperCase().padEnd(5), ...(LEVEL_STYLE[r.level] ?? []))} ${safeText(r.msg)}${extra ? ` ${s(extra.length > 300 ? `${extra.slice(0, 300)}…` : extra, 'gray')}` : ''}`;
  // a stack keeps its line breaks (ours), each line made safe on its own
  if (typeof err?.stack === 'string')
    line += `\n${err.stack
      .split('\n')
      .slice(0, 8)
      .map((l) => s(l, 'red'))
      .join('\n')}`;
  return line;
}

export const logsCommand = defineCommand({
  options: {
    follow: {
      flag: '-f, --follow',
      env: 'GOD_FOLLOW',
      description: 'keep printing new lines as they arrive',
      default: false,
    },
    role: { flag: '--role <roles>', env: 'GOD_ROLE', description: 'only these roles (comma-separated)' },
    id: { flag: '--id <ids>', env: 'GOD_ID', description: 'only these processes (comma-separated)' },
    host: { flag: '--host <hosts>', env: 'GOD_HOST', description: 'only these hosts (comma-separated)' },
    level: {
      flag: '--level <level>',
      env: 'GOD_LEVEL',
      description: 'this level and above: trace|debug|info|warn|error|fatal',
    },
    grep: { flag: '--grep <regex>', env: 'GOD_GREP', description: 'only lines matching (case-insensitive)' },
    since: {
      flag: '--since <duration>',
      env: 'GOD_SINCE',
      description:
        'only lines younger than this, e.g. 30s, 10m, 2h, 3d (older than the stream: from the archive)',
    },
    until: {
      flag: '--until <duration>',
      env: 'GOD_UNTIL',
      description: 'only lines older than this, e.g. 1h (with --since; not with -f)',
    },
    lines: {
      flag: '-n, --lines <n>',
      env: 'GOD_LINES',
      description: 'how many history lines (default 100, 10000 with --since)',
      schema: intFrom(0).optional(),
    },
  },
  async run(ctx, _args, opts) {
    const { role, id, host, level, grep, since, until } = opts;
    // --since and --level are read by the filter, which names them in its errors
    const now = Date.now();
    const filter = parseLogFilter({ role, id, host, level, grep, since, until, now });
    if (until !== undefined && opts.follow) {
      throw new UserError('--until and --follow do not go together: a tail has no end', {
        code: 'GOD_USAGE',
        hint: 'Drop --until to follow the live stream, or -f to read up to --until.',
      });
    }
    const limit = opts.lines;
    const fleetRedis = await ctx.redis();
    // the tail starts where the history ends, so no line is shown twice or skipped
    const startId = opts.follow ? await lastLogId(fleetRedis) : undefined;
    const archive = await openArchive(ctx);
    const progress = progressLine(ctx);
    let history: LogRecord[];
    try {
      history =
        limit === 0
          ? []
          : (
              await readHistory(
                fleetRedis,
                { ...filter, limit, until: startId },
                {
                  archive,
                  onProgress: progress.update,
                  onWarning: (message, hint) => ctx.events.emit({ type: 'warn', message, hint }),
                },
              )
            ).records;
    } finally {
      progress.done();
      archive?.close();
    }
    const show = (r: LogRecord) => ctx.out.item('log', r, renderLog(ctx, r));
    for (const r of history) show(r);
    if (!opts.follow) {
      if (!ctx.out.json && history.length === 0)
        ctx.events.emit({ type: 'info', message: 'no matching log lines' });
      ctx.out.result('logs', { count: history.length }, () => []);
      return 0;
    }
    await tailLogs(fleetRedis, filter, startId!, show, ctx.signal);
    return 0;
  },
});

/** The keeper's archive from the config (or the provider's default); undefined when there is none. */
async function openArchive(ctx: CliContext): Promise<ArchiveReader | undefined> {
  const url = keeperArchiveUrl(
    ctx.loaded.config.roles.keeper.options.archive,
    ctx.loaded.baseDir,
    await ctx.provider(),
  );
  return url ? new ArchiveReader(url, ctx.env) : undefined;
}

/** "reading the archive: 3/12 objects" rewritten in place on a TTY's stderr; nothing with --json or no TTY. */
function progressLine(ctx: CliContext) {
  const err = process.stderr;
  const on = !ctx.out.json && !!err.isTTY;
  let shown = false;
  return {
    update: (p: { done: number; total: number; lines: number }) => {
      if (!on || p.total === 0) return;
      shown = true;
      err.write(`\r\x1b[Kreading the archive: ${p.done}/${p.total} objects, ${p.lines} lines`);
    },
    done: () => {
      if (shown) err.write('\r\x1b[K');
    },
  };
}
