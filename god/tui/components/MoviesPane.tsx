// @jsxRuntime automatic — also when tsx runs from a folder without our tsconfig (god run from anywhere)
// The live ranking: rank, title, count over the window, who is watching (◉ clients on its feed, fleet-wide),
// movement since the last ranking, activity sparkline.
import { Text } from 'ink';
import { duration, num, pad } from '../format.ts';
import { sparkline } from '../sparkline.ts';
import type { MovieRanking } from '../state/movies.ts';
import { scrollStart } from './columns.ts';
import { Pane } from './Pane.tsx';

export function MoviesPane(p: {
  ranking: MovieRanking;
  selected: number;
  now: number;
  width: number;
  height: number;
  focused: boolean;
}) {
  const { ranking, selected: sel, now, width, height, focused } = p;
  const movies = ranking.ranking;
  const body = Math.max(0, height - 1);
  const start = scrollStart(sel, movies.length, body);
  const sparkWidth = Math.max(0, Math.min(ranking.slots, Math.floor(width / 4)));
  const watchWidth = ranking.watching.size > 0 ? 8 : 0;
  const titleWidth = Math.max(6, width - 4 - 7 - watchWidth - 2 - (sparkWidth ? sparkWidth + 1 : 0));
  const age = ranking.at !== undefined ? `updated ${duration(now - ranking.at)} ago` : 'no ranking yet';
  return (
    <Pane
      id="movies"
      width={width}
      height={height}
      focused={focused}
      info={`${movies.length} movies · ${age}`}
    >
      {movies.length === 0 ? <Text color="gray">waiting for the feeder's first ranking…</Text> : null}
      {movies.slice(start, start + body).map((m, i) => {
        const rank = start + i;
        const prev = ranking.previousRank.get(m.id);
        const move = prev === undefined ? '+' : prev > rank ? '▲' : prev < rank ? '▼' : ' ';
        const moveColor = move === '▲' || move === '+' ? 'green' : move === '▼' ? 'red' : undefined;
        return (
          <Text key={m.id} wrap="truncate-end" inverse={focused && rank === sel}>
            <Text color="gray">{pad(String(rank + 1), 3, 'right')} </Text>
            <Text>{pad(m.title, titleWidth)} </Text>
            <Text bold>{pad(num(m.count), 6, 'right')}</Text>
            {watchWidth ? (
              <Text color="magenta"> {pad(num(ranking.watching.get(m.id) ?? 0), 6, 'right')}◉</Text>
            ) : null}
            <Text color={moveColor}> {move}</Text>
            {sparkWidth ? <Text color="cyan"> {sparkline(ranking.sparkFor(m.id, sparkWidth))}</Text> : null}
          </Text>
        );
      })}
    </Pane>
  );
}
