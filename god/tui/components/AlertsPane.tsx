// @jsxRuntime automatic — also when tsx runs from a folder without our tsconfig (god run from anywhere)
// Keeper alerts (silence, exception) and God's own warnings, newest first.
import { Text } from 'ink';
import { clock, pad } from '../format.ts';
import type { AlertRow } from '../state/alerts.ts';
import { scrollStart } from './columns.ts';
import { Pane } from './Pane.tsx';

const COLOR = { error: 'red', warn: 'yellow', info: 'gray' } as const;

export function AlertsPane(p: {
  alerts: readonly AlertRow[];
  selected: number;
  width: number;
  height: number;
  focused: boolean;
}) {
  const { alerts, selected: sel, width, height, focused } = p;
  const body = Math.max(0, height - 1);
  const start = scrollStart(sel, alerts.length, body);
  const errors = alerts.filter((a) => a.level === 'error').length;
  return (
    <Pane
      id="alerts"
      width={width}
      height={height}
      focused={focused}
      info={alerts.length ? `${alerts.length} alerts${errors ? ` · ${errors} errors` : ''}` : 'none'}
      infoColor={errors ? 'red' : undefined}
    >
      {alerts.length === 0 ? <Text color="gray">no alerts</Text> : null}
      {alerts.slice(start, start + body).map((a, i) => (
        <Text key={a.key} wrap="truncate-end" inverse={focused && start + i === sel}>
          <Text color="gray">{clock(a.at, false)} </Text>
          <Text color={COLOR[a.level]} bold>
            {pad(a.kind, 9)}
          </Text>
          <Text> {a.message}</Text>
        </Text>
      ))}
    </Pane>
  );
}
