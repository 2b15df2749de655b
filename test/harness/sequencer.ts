// vitest sequencer: longest files first, so no long file starts near the end of the run and the workers finish
// together (the run's wall time is bounded by its last file). vitest's own order does this only from its local
// results cache; a clean clone (CI) has none, and falls back to file size, which put the 75 s deploy-health file
// near the end. Durations come from that cache when present, else from durations.json (refresh it from a CI log
// with `node scripts/test-durations.mjs LOG`); a file in neither (new) is taken as UNKNOWN_MS.
import fs from 'node:fs';
import path from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

const UNKNOWN_MS = 10_000;
const table: Record<string, number> = JSON.parse(
  fs.readFileSync(path.join(import.meta.dirname, 'durations.json'), 'utf8'),
);

export default class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const root = this.ctx.config.root;
    const est = new Map<TestSpecification, { failed: boolean; ms: number }>();
    for (const f of files) {
      const rel = path.relative(root, f.moduleId).split(path.sep).join('/');
      const cached = this.ctx.cache.getFileTestResults(`${f.project.name}:${rel}`);
      est.set(f, { failed: !!cached?.failed, ms: cached?.duration ?? table[rel] ?? UNKNOWN_MS });
    }
    // a file that failed last time first (as vitest does), then longest first
    return [...files].sort((a, b) => {
      const x = est.get(a)!;
      const y = est.get(b)!;
      return Number(y.failed) - Number(x.failed) || y.ms - x.ms;
    });
  }
}
