// @jsxRuntime automatic — also when tsx runs from a folder without our tsconfig (god run from anywhere)
// One process in full (Enter in Processes): where it runs, its release, uptime, restarts and last exit, its
// options and env from the config (secrets redacted), its live gauges and its last log lines. Esc goes back.
import { Box, Text } from 'ink';
import { PROCESS_STATES } from '../../core/process-states.ts';
import type { RoleSettings } from '../../core/process-options.ts';
import type { LastExit } from '../../core/providers/types.ts';
import { clock, duration, num, pad } from '../format.ts';
import { display, type LogLine } from '../log-line.ts';
import type { ProcessRow } from '../state/fleet.ts';
import { LEVEL_COLOR } from './LogsPane.tsx';

/** at most this many log lines of the process */
export const DETAIL_LOG_LINES = 50;

export function exitText(e: LastExit | undefined, now: number): string {
  if (!e) return '-';
  const why = e.signal ?? `exit ${e.code ?? '?'}`;
  const at = Date.parse(e.at);
  return Number.isFinite(at) ? `${why}, ${duration(Math.max(0, now - at))} ago` : why;
}

const kv = (o: Readonly<Record<string, unknown>>) =>
  Object.entries(o)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join('  ');

export function ProcessDetail(p: {
  row: ProcessRow | undefined;
  id: string;
  settings: RoleSettings | undefined;
  lines: LogLine[];
  now: number;
  width: number;
  height: number;
  top: number;
  left: number;
}) {
  const { row, width, now } = p;
  const inner = width - 2;
  const R = (t: string, color?: string) => (
    <Text wrap="truncate-end" color={color}>
      {pad(t, inner)}
    </Text>
  );
  if (!row) {
    return (
      <Box position="absolute" marginTop={p.top} marginLeft={p.left} width={width} flexDirection="column">
        <Box borderStyle="round" borderColor="cyan" flexDirection="column" width={width}>
          {R(`${p.id} is no longer in the fleet`, 'yellow')}
          {R('esc: back', 'gray')}
        </Box>
      </Box>
    );
  }
  const state = PROCESS_STATES[row.state];
  const uptime = row.startedAt && row.state === 'up' ? duration(now - row.startedAt) : '-';
  const gauges = row.gauges && Object.keys(row.gauges).length ? kv(row.gauges) : '-';
  const fixed = 9;
  const logRows = Math.max(0, Math.min(DETAIL_LOG_LINES, p.height - fixed - 2));
  const lines = p.lines.slice(-logRows);
  return (
    <Box position="absolute" marginTop={p.top} marginLeft={p.left} width={width} flexDirection="column">
      <Box borderStyle="round" borderColor="cyan" flexDirection="column" width={width}>
        <Text bold color="cyan" wrap="truncate-end">
          {pad(`${row.role} ${row.id} · ${state.label}`, inner)}
        </Text>
        {R(
          `host ${row.host}   pid ${row.pid ?? '-'}   version ${row.version ?? '-'}   uptime ${uptime}   cpu ${num(row.cpu, 1)}%`,
        )}
        {R(`restarts ${row.restarts ?? '-'}   last exit ${exitText(row.lastExit, now)}`)}
        {R(`gauges   ${gauges}`)}
        {R(`options  ${p.settings && Object.keys(p.settings.options).length ? kv(p.settings.options) : '-'}`)}
        {R(`env      ${p.settings && Object.keys(p.settings.env).length ? kv(p.settings.env) : '-'}`)}
        {R(`── last ${lines.length} log line(s) of ${row.id} ──`, 'gray')}
        {lines.map((l, i) => {
          const shown = display(l);
          return (
            // biome-ignore lint/suspicious/noArrayIndexKey: rows are positions on screen, not items
            <Text key={i} wrap="truncate-end">
              <Text color="gray">{clock(shown.time, false)} </Text>
              <Text color={LEVEL_COLOR[l.level] ?? 'white'}>{pad(l.level.toUpperCase(), 5)}</Text>
              <Text>{pad(` ${shown.text}`, Math.max(0, inner - 15))}</Text>
            </Text>
          );
        })}
        {R('esc: back', 'gray')}
      </Box>
    </Box>
  );
}
