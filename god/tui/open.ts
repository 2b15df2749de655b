// Load and open the Ink dashboard. React's development build checks every element it creates and is much
// slower (a frame of the dashboard: ~26 ms of CPU instead of ~15 ms), so God runs React in production mode
// unless NODE_ENV says otherwise. It must be set before React is first loaded: nothing else in God imports it.
import type { RunDashboardOptions } from './run.tsx';

export async function openDashboard(o: RunDashboardOptions): Promise<void> {
  process.env.NODE_ENV ??= 'production';
  const { runDashboard } = await import('./run.tsx');
  return runDashboard(o);
}
