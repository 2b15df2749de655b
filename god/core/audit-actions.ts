// The one table of what God audits: every change it makes, by the name the record carries. A CLI command
// whose name is a key here is audited by main.ts (a playbook run is `play`). The `dashboard …` names are for
// the dashboard's keys (god/tui/core-actions.ts), which do not record yet. Kept free of zod and services: main.ts reads it on every start.

export interface AuditedAction {
  /** what the change is, for `god audit` and the docs */
  summary: string;
  /** the option (by attribute name) that makes the run change nothing: such runs are not recorded */
  dryRun?: string;
}

export const AUDITED_ACTIONS = {
  up: { summary: 'start or converge processes', dryRun: 'dryRun' },
  down: { summary: 'stop processes (endpoints drained first)', dryRun: 'dryRun' },
  restart: { summary: 'restart processes', dryRun: 'dryRun' },
  deploy: { summary: 'ship and switch to a release', dryRun: 'dryRun' },
  rollback: { summary: 'switch back to an earlier release', dryRun: 'dryRun' },
  'endpoints shed': { summary: 'ask an endpoint to move clients away' },
  'secrets push': { summary: 'deliver the secrets again and restart what uses them', dryRun: 'dryRun' },
  play: { summary: 'run a playbook', dryRun: 'dryRun' },
  'lock release': { summary: 'remove a deploy lock' },
  'dashboard up': { summary: 'dashboard: one more process of a role' },
  'dashboard down': { summary: 'dashboard: stop a process' },
  'dashboard restart': { summary: 'dashboard: restart a process' },
  'dashboard shed': { summary: 'dashboard: shed clients of an endpoint' },
  'dashboard deploy': { summary: 'dashboard: deploy the current build' },
} as const satisfies Record<string, AuditedAction>;

export type AuditedActionName = keyof typeof AUDITED_ACTIONS;

export function auditedAction(name: string): AuditedAction | undefined {
  return Object.hasOwn(AUDITED_ACTIONS, name) ? AUDITED_ACTIONS[name as AuditedActionName] : undefined;
}
