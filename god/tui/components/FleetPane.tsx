// @jsxRuntime automatic — also when tsx runs from a folder without our tsconfig (god run from anywhere)
// Machines of the fleet: provider, id, address, state, roles.
import { Text } from 'ink';
import type { Machine } from '../../core/providers/types.ts';
import { type Column, fitColumns, renderHeader, renderRow, scrollStart } from './columns.ts';
import { Line, Pane } from './Pane.tsx';

const COLUMNS: Column<Machine>[] = [
  { key: 'provider', title: 'PROVIDER', width: 8, priority: 3, cell: (m) => m.provider },
  { key: 'id', title: 'ID', width: 12, priority: 1, flex: true, cell: (m) => m.name || m.id },
  {
    key: 'address',
    title: 'ADDRESS',
    width: 15,
    priority: 2,
    cell: (m) => (m.address ? `${m.address}${m.port && m.port !== 22 ? `:${m.port}` : ''}` : '-'),
  },
  { key: 'state', title: 'STATE', width: 9, priority: 1, cell: (m) => m.state },
  { key: 'roles', title: 'ROLES', width: 16, priority: 4, cell: (m) => m.roles.join(',') || '-' },
];

const GOOD = new Set(['running', 'up', 'ok', 'local']);

export function FleetPane(p: {
  machines: readonly Machine[];
  selected: number;
  /** the provider's kind, named in the title */
  fleet?: string;
  width: number;
  height: number;
  focused: boolean;
}) {
  const { machines, selected: sel, width, height, focused } = p;
  const cols = fitColumns(COLUMNS, width);
  const body = Math.max(0, height - 2);
  const start = scrollStart(sel, machines.length, body);
  const info = [p.fleet, `${machines.length} machines`].filter(Boolean).join(' · ');
  return (
    <Pane id="fleet" width={width} height={height} focused={focused} info={info}>
      <Line bold color="gray">
        {renderHeader(cols)}
      </Line>
      {machines.length === 0 ? <Text color="gray">no machines</Text> : null}
      {machines.slice(start, start + body).map((m, i) => (
        <Line
          key={`${m.provider}:${m.id}`}
          color={GOOD.has(m.state) ? undefined : 'yellow'}
          inverse={focused && start + i === sel}
        >
          {renderRow(cols, m)}
        </Line>
      ))}
    </Pane>
  );
}
