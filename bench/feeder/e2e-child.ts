// Entry of the bundled end-to-end child (bench/feeder.ts builds it with esbuild, as scripts/build.mjs builds
// the role): argv = JSON {url, redisPid, linesFile, catalogFile, prefix, mode}; prints the E2EResult as JSON.
import fs from 'node:fs';
import { endToEnd } from './e2e.ts';

const a = JSON.parse(process.argv[2]);
const lines = fs.readFileSync(a.linesFile, 'utf8').split('\n').filter(Boolean);
const catalog = JSON.parse(fs.readFileSync(a.catalogFile, 'utf8'));
const run = (prefix: string) =>
  endToEnd({ url: a.url, redisPid: a.redisPid, lines, catalog, prefix, mode: a.mode });
// warm up first (JIT): a fresh process needs a few hundred thousand tweets to reach its steady speed, which a
// feeder that runs for hours is at (the in-process run is warmed by the match benchmark and earlier runs)
for (let i = 0; i < 2; i++) await run(`${a.prefix}warm${i}:`);
const r = await run(a.prefix);
process.stdout.write(`${JSON.stringify(r)}\n`);
process.exit(0);
