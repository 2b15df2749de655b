import { defineConfig } from 'vitest/config';
import LongestFirst from './test/harness/sequencer.ts';

// Tests start real redis-server / sshd / moto_server processes (see test/harness). The suite mostly
// waits (heartbeats, health checks, process start/stop), so four workers on a 2-core machine cut the
// Node 20 run from 578 s to 385 s (2026-12-03, test/README.md "suite time"). Each test file runs in its
// own forked process, and the harness setup file plus the global setup make sure no child process
// outlives the run. Files run longest first
// (test/harness/sequencer.ts) so the workers finish together.
export default defineConfig({
  test: {
    environment: 'node',
    include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
    pool: 'forks',
    maxWorkers: 4,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    teardownTimeout: 30_000,
    globalSetup: ['test/harness/global-setup.ts'],
    setupFiles: ['test/harness/setup.ts'],
    sequence: { sequencer: LongestFirst },
  },
});
