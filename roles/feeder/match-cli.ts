// `feeder match --catalog FILE`: tweets as NDJSON on stdin (the formats replay takes), one
// {"id": "<tweet id>", "movies": [<movie id>, ...]} line per tweet on stdout, in order, and nothing else.
// Lines that are not tweets are reported on stderr (with their line number) and skipped.
import { z } from 'zod';
import { LineDecoder } from '../../protocol/ndjson.ts';
import { parseConfig } from '../runtime/config.ts';
import { formatUserError } from '../../kernel/errors.ts';
import { loadCatalog } from './catalog.ts';
import { Matcher } from './match/matcher.ts';
import { toTweet } from './tweet.ts';

const matchOptions = {
  catalog: {
    flag: '--catalog <file>',
    env: 'FG_CATALOG',
    description: 'movie catalog JSON (array of {id, title, year?, aliases?})',
    schema: z.string({ error: 'is required: the path of a catalog JSON file, e.g. data/movies.json' }).min(1),
  },
};

export async function runMatch(argv: string[]): Promise<number> {
  let matcher: Matcher;
  try {
    const cfg = parseConfig('feeder match', matchOptions, argv, process.env, {
      description: 'match tweets (NDJSON on stdin) against the catalog; one {"id","movies"} line per tweet',
    });
    matcher = new Matcher(loadCatalog(cfg.catalog));
  } catch (err) {
    process.stderr.write(`${formatUserError(err)}\n`);
    return 2;
  }
  let lineNo = 0;
  let bad = 0;
  let out: string[] = [];
  const decoder = new LineDecoder({
    maxLineBytes: 1 << 20,
    overflow: 'skip',
    onLine: (buf) => {
      lineNo++;
      const line = buf.toString('utf8');
      let obj: unknown;
      try {
        obj = JSON.parse(line);
      } catch (err) {
        bad++;
        process.stderr.write(`line ${lineNo}: not JSON (${(err as Error).message}); skipped\n`);
        return;
      }
      const t = toTweet(obj, Date.now());
      if (!t.ok) {
        bad++;
        process.stderr.write(`line ${lineNo}: ${t.reason}; skipped\n`);
        return;
      }
      out.push(JSON.stringify({ id: t.tweet.id, movies: matcher.match(t.text) }));
    },
    onError: (e) => {
      lineNo++;
      bad++;
      process.stderr.write(`line ${lineNo}: ${e.message}; skipped\n`);
    },
  });
  const flush = async () => {
    if (out.length === 0) return;
    const s = `${out.join('\n')}\n`;
    out = [];
    if (!process.stdout.write(s)) await new Promise((r) => process.stdout.once('drain', r));
  };
  for await (const chunk of process.stdin) {
    decoder.push(chunk as Buffer);
    await flush();
  }
  decoder.push('\n');
  await flush();
  if (bad) process.stderr.write(`${bad} line(s) were not tweets and were skipped\n`);
  return 0;
}
