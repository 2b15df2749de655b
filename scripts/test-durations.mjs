#!/usr/bin/env node
// Refresh test/harness/durations.json (the longest-first order of test/harness/sequencer.ts) from a vitest log:
//   node scripts/test-durations.mjs ci.log
// Reads the per-file lines vitest prints (" ✓ test/x.test.ts (3 tests) 1234ms"); the first run of a file in the
// log counts (CI runs the Node 20 suite first). Plain Node, no dependencies.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const file = process.argv[2];
if (!file) {
  console.error('usage: node scripts/test-durations.mjs VITEST_LOG');
  process.exit(2);
}
const out = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../test/harness/durations.json');
// biome-ignore lint/suspicious/noControlCharactersInRegex: strips the log's colour escapes
const text = fs.readFileSync(file, 'utf8').replace(/\x1b\[[0-9;]*m/g, '');
const ms = {};
for (const m of text.matchAll(
  /^ [✓×↓] (test\/\S+\.test\.tsx?) \(\d+ tests?[^)]*\) (\d+(?:\.\d+)?)(ms|s)$/gm,
)) {
  if (ms[m[1]] !== undefined) continue;
  ms[m[1]] = Math.round(Number(m[2]) * (m[3] === 's' ? 1000 : 1));
}
const sorted = Object.fromEntries(Object.entries(ms).sort(([, a], [, b]) => b - a));
fs.writeFileSync(out, `${JSON.stringify(sorted, null, 1)}\n`);
console.error(`test-durations: ${Object.keys(sorted).length} files → ${path.relative(process.cwd(), out)}`);
