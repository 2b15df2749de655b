// @jsxRuntime automatic — also when tsx runs from a folder without our tsconfig (god run from anywhere)
// A pane: a one-line title bar (highlighted when focused) over exactly `height - 1` rows of content.
import { Box, Text } from 'ink';
import type { ReactNode } from 'react';
import { PANE_TITLES, PANES, type PaneId } from '../store.ts';

export interface PaneProps {
  id: PaneId;
  width: number;
  height: number;
  focused: boolean;
  /** text after the title (counts, filter, follow state) */
  info?: string;
  infoColor?: string;
  children?: ReactNode;
}

export function Pane({ id, width, height, focused, info, infoColor, children }: PaneProps) {
  const n = PANES.indexOf(id) + 1;
  const title = ` ${n} ${PANE_TITLES[id]} `;
  const rest = info ? ` ${info}` : '';
  const fill = Math.max(0, width - title.length - rest.length);
  return (
    <Box flexDirection="column" width={width} height={height} overflow="hidden">
      <Text wrap="truncate-end">
        <Text bold inverse={focused} color={focused ? 'cyan' : 'gray'}>
          {title}
        </Text>
        <Text color={infoColor ?? (focused ? 'cyan' : 'gray')}>{rest}</Text>
        <Text color="gray">{'─'.repeat(fill)}</Text>
      </Text>
      <Box flexDirection="column" height={Math.max(0, height - 1)} overflow="hidden">
        {children}
      </Box>
    </Box>
  );
}

/** A table header/row cell line, truncated to the pane width. */
export function Line({ children, ...rest }: { children?: ReactNode } & Record<string, unknown>) {
  return (
    <Text wrap="truncate-end" {...rest}>
      {children}
    </Text>
  );
}
