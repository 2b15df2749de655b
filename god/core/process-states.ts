// The states of a fleet process: one vocabulary for `god status` (its table, --json, --check) and the dashboard
// (Processes pane, header, headless `process` items). Everything about a state is a column of this table.
import { z } from 'zod';

export type Tone = 'good' | 'warn' | 'bad';

export const PROCESS_STATES = {
  /** expected, and its heartbeat is fresh */
  up: { tone: 'good', label: 'online', order: 3 },
  /** expected; its beats stopped (an old beat, or its beat key expired) */
  stale: { tone: 'bad', label: 'stale', order: 1 },
  /** expected, never beat */
  missing: { tone: 'bad', label: 'missing', order: 0 },
  /** beats, but the fleet does not expect it (a leftover) */
  unexpected: { tone: 'warn', label: 'unexpected', order: 2 },
} as const satisfies Record<string, { tone: Tone; label: string; order: number }>;
// label: how the dashboard words it (pm2's "online"); order: worst first, for ties in the Processes pane

export type ProcessState = keyof typeof PROCESS_STATES;
export const PROCESS_STATE_NAMES = Object.keys(PROCESS_STATES) as [ProcessState, ...ProcessState[]];
export const ProcessStateSchema = z.enum(PROCESS_STATE_NAMES);

/** down: expected but not beating (what turns a row red and fails `status --check`) */
export const isDown = (s: ProcessState) => PROCESS_STATES[s].tone === 'bad';
