// `god logs [-f] [--role R] [--id ID] [--host H] [--level L] [--grep RE] [--since 10m] [-n N] [--json]`.
import { lastLogId, type LogRecord, parseLogFilter, readLogs, safeText, tailLogs } from '../../core/logs.ts';
import { type CliContext, intArg } from '../context.ts';
import type { CommandSpec } from '../spec.ts';
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

export const logsCommand: CommandSpec = {
  options: [
    {
      flags: '-f, --follow',
      env: 'GOD_FOLLOW',
      description: 'keep printing new lines as they arrive',
      default: false,
    },
    { flags: '--role <roles>', env: 'GOD_ROLE', description: 'only these roles (comma-separated)' },
    { flags: '--id <ids>', env: 'GOD_ID', description: 'only these processes (comma-separated)' },
    { flags: '--host <hosts>', env: 'GOD_HOST', description: 'only these hosts (comma-separated)' },
    {
      flags: '--level <level>',
      env: 'GOD_LEVEL',
      description: 'this level and above: trace|debug|info|warn|error|fatal',
    },
    { flags: '--grep <regex>', env: 'GOD_GREP', description: 'only lines matching (case-insensitive)' },
    {
      flags: '--since <duration>',
      env: 'GOD_SINCE',
      description: 'only lines younger than this, e.g. 30s, 10m, 2h',
    },
    {
      flags: '-n, --lines <n>',
      env: 'GOD_LINES',
      description: 'how many history lines (default 100, 10000 with --since)',
    },
  ],
  async run(ctx, _args, o) {
    const filter = parseLogFilter({
      role: o.role as string | undefined,
      id: o.id as string | undefined,
      host: o.host as string | undefined,
      level: o.level as string | undefined,
      grep: o.grep as string | undefined,
      since: o.since as string | undefined,
    });
    const limit = o.lines !== undefined ? intArg(o.lines, '--lines') : undefined;
    const fleetRedis = await ctx.redis();
    // the tail starts where the history ends, so no line is shown twice or skipped
    const startId = o.follow ? await lastLogId(fleetRedis) : undefined;
    const history = limit === 0 ? [] : await readLogs(fleetRedis, { ...filter, limit, until: startId });
    const show = (r: LogRecord) => ctx.out.item('log', r, renderLog(ctx, r));
    for (const r of history) show(r);
    if (!o.follow) {
      if (!ctx.out.json && history.length === 0)
        ctx.events.emit({ type: 'info', message: 'no matching log lines' });
      ctx.out.result('logs', { count: history.length }, () => []);
      return 0;
    }
    await tailLogs(fleetRedis, filter, startId!, show, ctx.signal);
    return 0;
  },
};
