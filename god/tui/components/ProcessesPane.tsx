// @jsxRuntime automatic — also when tsx runs from a folder without our tsconfig (god run from anywhere)
// pm2-like table of every process the fleet should have, joined with its heartbeat; red when missing/stale.
import { Text } from 'ink';
import { formatBytes } from '../../../kernel/units.ts';
import { isDown, PROCESS_STATES, type Tone } from '../../core/process-states.ts';
import { duration, num } from '../format.ts';
import type { ProcessRow } from '../state/fleet.ts';
import { type Column, fitColumns, renderHeader, renderRow, scrollStart } from './columns.ts';
import { Line, Pane } from './Pane.tsx';

export function processColumns(now: number): Column<ProcessRow>[] {
  return [
    { key: 'role', title: 'ROLE', width: 8, priority: 1, cell: (r) => r.role },
    { key: 'id', title: 'ID', width: 14, priority: 1, flex: true, cell: (r) => r.id },
    { key: 'host', title: 'HOST', width: 12, priority: 4, cell: (r) => r.host },
    {
      key: 'pid',
      title: 'PID',
      width: 7,
      priority: 6,
      align: 'right',
      cell: (r) => (r.pid ? String(r.pid) : '-'),
    },
    { key: 'version', title: 'VERSION', width: 10, priority: 7, cell: (r) => r.version ?? '-' },
    {
      key: 'uptime',
      title: 'UPTIME',
      width: 6,
      priority: 5,
      align: 'right',
      cell: (r) => (r.startedAt && r.state === 'up' ? duration(now - r.startedAt) : '-'),
    },
    { key: 'cpu', title: 'CPU%', width: 5, priority: 3, align: 'right', cell: (r) => num(r.cpu, 1) },
    {
      key: 'rss',
      title: 'RSS',
      width: 6,
      priority: 3,
      align: 'right',
      cell: (r) => formatBytes(r.rss, 'compact'),
    },
    { key: 'clients', title: 'CLIENTS', width: 7, priority: 2, align: 'right', cell: (r) => num(r.clients) },
    {
      key: 'tweets',
      title: 'TW/S',
      width: 6,
      priority: 2,
      align: 'right',
      cell: (r) => num(r.tweetsPerS, 1),
    },
    {
      key: 'beat',
      title: 'BEAT',
      width: 5,
      priority: 2,
      align: 'right',
      cell: (r) => (r.beatAt ? duration(Math.max(0, now - r.beatAt)) : '-'),
    },
    {
      key: 'state',
      title: 'STATUS',
      width: 7,
      priority: 1,
      cell: (r) => PROCESS_STATES[r.state].label,
    },
  ];
}

const TONE_COLOR: Record<Tone, string | undefined> = { good: undefined, warn: 'yellow', bad: 'red' };

export function ProcessesPane(p: {
  rows: readonly ProcessRow[];
  selected: number;
  now: number;
  width: number;
  height: number;
  focused: boolean;
}) {
  const { rows, selected: sel, now, width, height, focused } = p;
  const cols = fitColumns(processColumns(now), width);
  const bad = rows.filter((r) => isDown(r.state)).length;
  const info = `${rows.length} processes${bad ? ` · ${bad} down` : ''}`;
  const body = Math.max(0, height - 2);
  const start = scrollStart(sel, rows.length, body);
  return (
    <Pane
      id="processes"
      width={width}
      height={height}
      focused={focused}
      info={info}
      infoColor={bad ? 'red' : undefined}
    >
      <Line bold color="gray">
        {renderHeader(cols)}
      </Line>
      {rows.length === 0 ? <Text color="gray">no processes yet (waiting for heartbeats)</Text> : null}
      {rows.slice(start, start + body).map((r, i) => (
        <Line
          key={`${r.role}:${r.id}`}
          color={TONE_COLOR[PROCESS_STATES[r.state].tone]}
          inverse={focused && start + i === sel}
          bold={r.state !== 'up'}
        >
          {renderRow(cols, r)}
        </Line>
      ))}
    </Pane>
  );
}
