import { defineConfig } from 'vitest/config';
import LongestFirst from './test/harness/sequencer.ts';

// Tests start real redis-server / sshd / moto_server processes (see test/harness). Two workers
// suit a 2-core machine; each test file runs in its own forked process, and the harness setup
// file plus the global setup make sure no child process outlives the run. Files run longest first
// (test/harness/sequencer.ts) so the workers finish together.
export default defineConfig({
  test: {
    environment: 'node',
    include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    teardownTimeout: 30_000,
    globalSetup: ['test/harness/global-setup.ts'],
    setupFiles: ['test/harness/setup.ts'],
    sequence: { sequencer: LongestFirst },
  },
});
