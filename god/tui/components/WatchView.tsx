// @jsxRuntime automatic — also when tsx runs from a folder without our tsconfig (god run from anywhere)
// The watch view (Enter on a movie): its live feed as a user sees it, one tweet a row: arrival time, author,
// delay from the tweet's creation to its arrival here, text. Over the panes, until Esc.
import { Box, Text } from 'ink';
import { delayText } from '../../core/watch.ts';
import { clock, pad } from '../format.ts';
import type { WatchFeed } from '../state/watch.ts';

export function WatchView(p: { watch: WatchFeed; width: number; height: number; top: number; left: number }) {
  const { watch, width } = p;
  const inner = width - 2;
  const rows = Math.max(1, p.height - 4);
  const tweets = watch.last(rows);
  const title = watch.movie ? `Watching ${watch.movie.title} (id ${watch.movie.id})` : 'Watching';
  const status = watch.error ?? `${watch.status} · ${watch.count} tweets`;
  return (
    <Box position="absolute" marginTop={p.top} marginLeft={p.left} width={width} flexDirection="column">
      <Box borderStyle="round" borderColor="magenta" flexDirection="column" width={width}>
        <Text bold color="magenta" wrap="truncate-end">
          {pad(title, inner)}
        </Text>
        <Text color={watch.error ? 'red' : 'gray'} wrap="truncate-end">
          {pad(status, inner)}
        </Text>
        {tweets.length === 0 ? (
          <Text color="gray" wrap="truncate-end">
            {pad(watch.error ? ' ' : 'waiting for the first tweet…', inner)}
          </Text>
        ) : null}
        {tweets.map((t) => (
          <Text key={t.id} wrap="truncate-end">
            <Text color="gray">{clock(Date.parse(t.received_at), false)} </Text>
            <Text color="cyan">{pad(`@${t.author}`, 16)} </Text>
            <Text color={t.delay_ms > 2000 ? 'yellow' : 'green'}>
              {pad(`+${delayText(t.delay_ms)}`, 9, 'right')}
            </Text>
            <Text>{pad(`  ${t.text}`, Math.max(0, inner - 35))}</Text>
          </Text>
        ))}
        <Text color="gray" wrap="truncate-end">
          {pad('esc: stop watching (closes the connection)', inner)}
        </Text>
      </Box>
    </Box>
  );
}
