import { afterAll } from 'vitest';
import { cleanupAll } from './procs.ts';

// setupFiles entry: after every test file, stop whatever the file started and forgot, kill every
// tracked process and remove the harness temp dirs (the worker's exit hook is the last resort).
afterAll(async () => {
  await cleanupAll();
});
