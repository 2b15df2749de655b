// Deploy services for the CLI, the TUI and playbooks (one implementation).
export { type DeployOptions, deploy, planSummary } from './deploy.ts';
export { checkEndpoint, healthOf, waitHeartbeat } from './health.ts';
export { DeployLock } from './lock.ts';
export { buildBundles, loadRelease } from './release.ts';
export { deployHostsFrom, processFor, remoteProcesses, sshOptionsFrom } from './remote-fleet.ts';
export { type RollbackOptions, rollback } from './rollback.ts';
export type { DeployHost, DeployResult, HostResult, HostStatus, ProcessMode, ProcessSpec } from './types.ts';
