// `god status [--json] [--check]`: expected processes joined with live heartbeats, machines, Redis.
import { ERROR_CODES } from '../../../kernel/errors.ts';
import { formatBytes } from '../../../kernel/units.ts';
import type { CliContext } from '../context.ts';
import { defineCommand } from '../spec.ts';
import { fmtDuration, type Style, table } from '../output.ts';
import { PROCESS_STATES, type Tone } from '../../core/process-states.ts';
import { getStatus, type ProcessStatus, type StatusReport } from '../../core/status.ts';
import type { FleetRedis } from '../../core/redis.ts';
import { adminTokenOf } from '../../core/secrets/admin-token.ts';
import { secretsContext } from './secrets.ts';

const TONE_STYLE: Record<Tone, Style[]> = { good: ['green'], warn: ['yellow'], bad: ['red', 'bold'] };

const HIDDEN_GAUGES = new Set(['log_dropped', 'log_pending']);

export function gaugeText(g: Record<string, number>): string {
  return Object.entries(g)
    .filter(([k, v]) => !HIDDEN_GAUGES.has(k) || v > 0)
    .slice(0, 4)
    .map(([k, v]) => `${k}=${Number.isInteger(v) ? v : v.toFixed(1)}`)
    .join(' ');
}

/** "SIGKILL 2m ago", "exit 1 5s ago", "-" when it never exited (or the provider does not know). */
export function exitText(e: ProcessStatus['last_exit'], now = Date.now()): string {
  if (!e) return '-';
  const why = e.signal ?? `exit ${e.code ?? '?'}`;
  const ago = Math.max(0, Math.round((now - Date.parse(e.at)) / 1000));
  return Number.isFinite(ago) ? `${why} ${fmtDuration(ago)} ago` : why;
}

export function renderStatus(ctx: CliContext, r: StatusReport): string[] {
  const s = (t: string, ...st: Parameters<CliContext['out']['style']>[1][]) => ctx.out.style(t, ...st);
  const stateColor = (p: ProcessStatus) => s(p.state, ...TONE_STYLE[PROCESS_STATES[p.state].tone]);
  const lines = [
    `${s('provider', 'bold')} ${r.provider}   ${s('redis', 'bold')} ${r.redis.url ?? '-'} ${r.redis.ok ? s('ok', 'green') : s(`unreachable${r.redis.error ? `: ${r.redis.error}` : ''}`, 'red')}`,
    '',
    ...table(
      r.machines.map((m) => [m.name, m.id, m.address ?? '-', m.state, m.roles.join(',') || '-']),
      ['MACHINE', 'ID', 'ADDRESS', 'STATE', 'ROLES'].map((h) => s(h, 'bold')),
    ),
    '',
  ];
  if (r.processes.length === 0) {
    lines.push(s('no processes expected or alive', 'gray'));
    // the usual reason: nothing started yet
    if (r.provider === 'local' && !r.redis.ok) {
      lines.push(s('start the local fleet with `god up` (or watch it all with `npm run demo`)', 'gray'));
    }
  } else {
    lines.push(
      ...table(
        r.processes.map((p) => [
          p.role,
          p.id,
          p.host,
          p.pid === null ? '-' : String(p.pid),
          p.version ?? '-',
          fmtDuration(p.uptime_s),
          p.cpu === null ? '-' : `${p.cpu.toFixed(1)}%`,
          formatBytes(p.rss),
          p.heartbeat_age_s === null ? '-' : `${p.heartbeat_age_s}s`,
          p.restarts === null ? '-' : p.restarts > 0 ? s(String(p.restarts), 'yellow') : '0',
          exitText(p.last_exit),
          stateColor(p),
          gaugeText(p.gauges),
        ]),
        // ↺ as pm2 shows restarts
        [
          'ROLE',
          'ID',
          'HOST',
          'PID',
          'VERSION',
          'UPTIME',
          'CPU',
          'RSS',
          'BEAT',
          '↺',
          'LAST EXIT',
          'STATE',
          'GAUGES',
        ].map((h) => s(h, 'bold')),
      ),
    );
  }
  const { summary: m } = r;
  lines.push(
    '',
    `${m.up}/${m.expected} up${m.stale ? `, ${s(`${m.stale} stale`, 'red')}` : ''}${m.missing ? `, ${s(`${m.missing} missing`, 'red')}` : ''}${m.unexpected ? `, ${s(`${m.unexpected} unexpected`, 'yellow')}` : ''}${m.not_ready ? `, ${s(`${m.not_ready} not ready (/readyz)`, 'red')}` : ''}`,
  );
  // a listener God could not read: its heartbeat decided; a refused token is the operator's to fix
  for (const p of r.processes) {
    if (p.ready_error)
      lines.push(s(`${p.id}: /readyz not read (heartbeat used): ${p.ready_error}`, 'yellow'));
  }
  return lines;
}

export const statusCommand = defineCommand({
  options: {
    check: {
      flag: '--check',
      env: 'GOD_CHECK',
      description: 'exit with code 3 unless every expected process is up',
      default: false,
    },
  },
  async run(ctx, _args, opts) {
    const provider = await ctx.provider();
    const redisUrl = await ctx.redisUrl();
    let redis: FleetRedis | undefined;
    let redisError: string | undefined;
    if (redisUrl) {
      try {
        redis = await ctx.redis();
      } catch (err) {
        redisError = (err as Error).message;
      }
    } else redisError = 'no Redis known (the fleet is not running and the config names none)';
    const adminToken = await adminTokenOf(secretsContext(ctx));
    const report = await getStatus({ provider, redis, redisUrl, redisError, adminToken });
    ctx.out.result('status', report, (r) => renderStatus(ctx, r), report.ok);
    return opts.check && !report.ok ? ERROR_CODES.GOD_CHECK_FAILED.exit : 0;
  },
});
