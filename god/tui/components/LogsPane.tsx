// @jsxRuntime automatic — also when tsx runs from a folder without our tsconfig (god run from anywhere)
// Live tail of every role's log: time, role@host, colored level, message. Filter, pause, scroll back, follow.
import { Text } from 'ink';
import { clock, pad } from '../format.ts';
import { display } from '../log-line.ts';
import type { LogViewport } from '../state/log-viewport.ts';
import { Pane } from './Pane.tsx';

export const LEVEL_COLOR: Record<string, string> = {
  trace: 'gray',
  debug: 'gray',
  info: 'green',
  warn: 'yellow',
  error: 'red',
  fatal: 'magenta',
};

export function LogsPane(p: { logs: LogViewport; width: number; height: number; focused: boolean }) {
  const { logs, width, height, focused } = p;
  const rows = Math.max(0, height - 1);
  const view = logs.view(rows);
  const filter = logs.filter.source;
  const parts: string[] = [];
  parts.push(filter ? `${view.matched}/${view.held} lines` : `${view.held} lines`);
  if (filter) parts.push(`filter: ${filter}`);
  if (view.paused) parts.push(`PAUSED +${view.newWhilePaused}`);
  else parts.push(view.following ? 'following' : 'scrolled back (f: follow)');
  // narrow panes drop the milliseconds, then the host
  const withMs = width >= 100;
  const withHost = width >= 64;
  const who = withHost ? 20 : 9;
  return (
    <Pane
      id="logs"
      width={width}
      height={height}
      focused={focused}
      info={parts.join(' · ')}
      infoColor={view.paused ? 'yellow' : undefined}
    >
      {view.lines.length === 0 ? (
        <Text color="gray">
          {view.held ? 'no line matches the filter (esc clears it)' : 'waiting for log lines…'}
        </Text>
      ) : null}
      {view.lines.map((line, i) => {
        const shown = display(line);
        const src = withHost ? `${line.role}@${line.host}` : line.role;
        return (
          // biome-ignore lint/suspicious/noArrayIndexKey: rows are positions on screen, not items
          <Text key={i} wrap="truncate-end">
            <Text color="gray">{clock(shown.time, withMs)} </Text>
            <Text color="cyan">{pad(src, who)} </Text>
            <Text
              color={LEVEL_COLOR[line.level] ?? 'white'}
              bold={line.level === 'error' || line.level === 'fatal'}
            >
              {pad(line.level.toUpperCase(), 5)}
            </Text>
            <Text> {shown.text}</Text>
          </Text>
        );
      })}
    </Pane>
  );
}
