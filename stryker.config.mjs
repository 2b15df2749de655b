// Mutation testing (issue 21): `npm run mutate` (all modules below, slow) or one module at a time:
//   npm run mutate -- --mutate god/core/status.ts      (or FG_MUTATE=god/core/status.ts npm run mutate)
// Only the test files listed for the chosen module(s) run, so a mutant must be killed by that module's
// own tests. Not part of CI: a module takes minutes to an hour on 2 cores. Scores go in MUTATION.md.

/** Modules whose job is to check or to keep data, and the test files that should kill their mutants. */
const MODULES = {
  'protocol/ndjson.ts': [
    'test/protocol/ndjson.test.ts',
    'test/protocol/line-decoder.test.ts',
    'test/protocol/messages.test.ts',
  ],
  'roles/endpoint/conn.ts': [
    'test/endpoint/conn.test.ts',
    'test/endpoint/limits.test.ts',
    'test/endpoint/protocol.test.ts',
  ],
  // hand-written heartbeats in a real Redis and loopback TCP/TLS servers (health.test.ts/deploy.test.ts need sshd)
  'god/core/deploy/health.ts': ['test/god/deploy/health-units.test.ts'],
  // each check against a real Redis, a folder archive and in-process endpoints (local.test.ts/drill.test.ts run
  // whole fleets: minutes per mutant)
  'god/core/playbook/conditions.ts': ['test/playbooks/conditions-units.test.ts'],
  // only its refine callbacks (lines 32, 92, 126) are worth a run: the rest is module-level values, and a
  // static mutant is activated after its module was imported when testFiles is set (stryker-js#6144), so it
  // always "survives" (ignoreStatic does not catch them with this runner either)
  'god/core/playbook/conditions-schema.ts': ['test/playbooks/conditions-units.test.ts'],
  'god/core/playbook/kinds/checks.ts': ['test/playbooks/conditions-units.test.ts'],
  'god/core/playbook/kinds/assert.ts': ['test/playbooks/conditions-units.test.ts'],
  'god/core/playbook/kinds/wait.ts': ['test/playbooks/conditions-units.test.ts'],
  // hand-written and left-behind heartbeats in a real Redis (local.test.ts starts a whole local fleet: too slow)
  'god/core/status.ts': ['test/god/status.test.ts', 'test/god/status-waits.test.ts'],
  // the Archiver class against real Redis + a folder archive (archive.test.ts, keepers on moto S3, is too slow)
  'roles/keeper/archiver.ts': ['test/keeper/archiver-units.test.ts'],
};

// `--mutate a.ts,b.ts` on the command line or FG_MUTATE; the CLI flag wins over this file's `mutate`,
// but the test files still have to be derived here.
function chosen() {
  const i = process.argv.findIndex((a) => a === '--mutate' || a === '-m' || a.startsWith('--mutate='));
  let spec = process.env.FG_MUTATE;
  if (i >= 0) spec = process.argv[i].includes('=') ? process.argv[i].split('=')[1] : process.argv[i + 1];
  if (!spec) return Object.keys(MODULES);
  const files = spec.split(',').map((s) => s.trim().replace(/^\.\//, '').replace(/:.*$/, ''));
  for (const f of files) {
    if (!MODULES[f]) {
      throw new Error(
        `stryker.config.mjs: no test files listed for ${f}; add it to MODULES (${Object.keys(MODULES).join(', ')})`,
      );
    }
  }
  return files;
}

const mutate = chosen();

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.config.ts', related: false },
  plugins: ['@stryker-mutator/vitest-runner'],
  mutate,
  testFiles: [...new Set(mutate.flatMap((m) => MODULES[m]))],
  // tests start real redis-server / sshd processes: 2 cores, so at most 2 sandboxes at once
  concurrency: Number(process.env.FG_MUTATE_CONCURRENCY ?? 2),
  coverageAnalysis: 'perTest',
  timeoutMS: 30_000,
  timeoutFactor: 2,
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  ignorePatterns: ['reports', 'dist', '.cache', 'coverage'],
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
  thresholds: { high: 80, low: 60, break: null },
};
