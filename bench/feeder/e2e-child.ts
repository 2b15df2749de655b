// Entry of the bundled end-to-end child (bench/feeder.ts builds it with esbuild, as scripts/build.mjs builds
// the role): argv = JSON {url, redisPid, linesFile, catalogFile, prefix, mode}; prints the E2EResult as JSON.
import fs from 'node:fs';
import { endToEnd } from './e2e.ts';

const a = JSON.parse(process.argv[2]);
const lines = fs.readFileSync(a.linesFile, 'utf8').split('\n').filter(Boolean);
const catalog = JSON.parse(fs.readFileSync(a.catalogFile, 'utf8'));
const r = await endToEnd({
  url: a.url,
  redisPid: a.redisPid,
  lines,
  catalog,
  prefix: a.prefix,
  mode: a.mode,
});
process.stdout.write(`${JSON.stringify(r)}\n`);
process.exit(0);
