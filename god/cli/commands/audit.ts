// `god audit [--since 3d] [-n N] [--json]`: the audit trail (god/core/audit.ts), oldest first.
import { UserError } from '../../../kernel/errors.ts';
import { intFrom } from '../../../kernel/flags.ts';
import { parseDurationText } from '../../../kernel/units.ts';
import { type AuditRecord, listAudit } from '../../core/audit.ts';
import { safeText } from '../../core/logs.ts';
import type { CliContext } from '../context.ts';
import { table } from '../output.ts';
import { defineCommand } from '../spec.ts';

/** Who, as one cell: the CI job when there was one, else user@host. */
export function whoText(r: AuditRecord): string {
  const ci = r.who.ci;
  const os = `${r.who.user}@${r.who.host}`;
  if (!ci) return os;
  return `${ci.system}${ci.actor ? ` ${ci.actor}` : ''}${ci.job ? ` #${ci.job}` : ''} (${os})`;
}

function render(ctx: CliContext, records: AuditRecord[], unreadable: number): string[] {
  const s = ctx.out.style.bind(ctx.out);
  const lines =
    records.length === 0
      ? [s('no changes recorded in that time', 'gray')]
      : table(
          records.map((r) => [
            r.at.replace('T', ' ').slice(0, 19),
            safeText(whoText(r)),
            safeText([r.action, ...r.args].join(' ')),
            r.result.ok ? s('ok', 'green') : s(`failed ${r.result.code ?? ''}`.trim(), 'red'),
            `${(r.ms / 1000).toFixed(1)}s`,
          ]),
          ['AT (UTC)', 'WHO', 'WHAT', 'RESULT', 'TOOK'].map((h) => s(h, 'bold')),
        );
  if (unreadable)
    lines.push(s(`${unreadable} entr${unreadable === 1 ? 'y' : 'ies'} not God's records, skipped`, 'yellow'));
  return lines;
}

export const auditCommand = defineCommand({
  options: {
    since: {
      flag: '--since <duration>',
      env: 'GOD_SINCE',
      description: 'only changes younger than this, e.g. 30m, 2h, 3d (default: all the stream holds)',
    },
    lines: {
      flag: '-n, --lines <n>',
      env: 'GOD_LINES',
      description: 'at most this many of the newest records (default 1000)',
      schema: intFrom(1).optional(),
    },
  },
  async run(ctx, _args, opts) {
    let sinceMs: number | undefined;
    if (opts.since !== undefined) {
      const ms = parseDurationText(opts.since);
      if (ms === undefined) {
        throw new UserError(`--since ${JSON.stringify(opts.since)} is not a duration`, {
          code: 'GOD_USAGE',
          hint: 'Give an age such as 30m, 2h or 3d.',
        });
      }
      sinceMs = Date.now() - ms;
    }
    const { records, unreadable } = await listAudit(await ctx.redis(), { sinceMs, limit: opts.lines });
    ctx.out.result('audit', { records, unreadable }, () => render(ctx, records, unreadable));
    return 0;
  },
});
