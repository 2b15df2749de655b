// Every `god` command, in help order: one line each, with how to load its module. Only the chosen command's
// module is imported (the dashboard's pulls in React and Ink, deploy's ssh2), so `god --help` and a simple
// command do not pay for the others.
import type { CommandEntry } from './spec.ts';

export const commands: CommandEntry[] = [
  {
    name: 'dashboard',
    summary: 'the live dashboard: fleet, processes, logs, movie ranking, alerts (plain lines when not a TTY)',
    load: () => import('./commands/dashboard.ts').then((m) => m.dashboardCommand),
  },
  {
    name: 'demo',
    summary:
      'the whole system on this machine with simulated clients, live in the dashboard (--headless: a summary)',
    load: () => import('./commands/demo.ts').then((m) => m.demoCommand),
  },
  {
    name: 'status',
    summary: 'every process the fleet should have, joined with its live heartbeat; machines; Redis',
    load: () => import('./commands/status.ts').then((m) => m.statusCommand),
  },
  {
    name: 'logs',
    summary: "the fleet's logs from the Redis log stream: history, then a live tail with -f",
    load: () => import('./commands/logs.ts').then((m) => m.logsCommand),
  },
  {
    name: 'audit',
    summary: 'who changed what and when: the audit trail of every change God made (up, down, deploy …)',
    load: () => import('./commands/audit.ts').then((m) => m.auditCommand),
  },
  {
    name: 'up',
    summary: 'start the fleet (all roles at their configured counts), or converge ROLE to N processes',
    args: ['[role]'],
    load: () => import('./commands/scale.ts').then((m) => m.upCommand),
  },
  {
    name: 'down',
    summary:
      'stop everything (local: processes, Redis and the supervisor), a ROLE, N of it, or --id processes; endpoints are drained first',
    args: ['[role]'],
    load: () => import('./commands/scale.ts').then((m) => m.downCommand),
  },
  {
    name: 'restart',
    summary:
      'restart every process, a ROLE, or given --id processes (one at a time), then wait for heartbeats',
    args: ['[role]'],
    load: () => import('./commands/scale.ts').then((m) => m.restartCommand),
  },
  {
    name: 'deploy',
    summary:
      'ship the role bundles to the hosts, switch `current`, restart and health-check (rolling with --batch)',
    load: () => import('./commands/deploy.ts').then((m) => m.deployCommand),
  },
  {
    name: 'rollback',
    summary:
      'switch the hosts back to an earlier release (default: the previous one), restart and health-check',
    args: ['[version]'],
    load: () => import('./commands/rollback.ts').then((m) => m.rollbackCommand),
  },
  {
    name: 'play',
    summary: 'run a playbook (playbooks/*.yaml): validate it all, then each step through the fleet services',
    args: ['<file>'],
    load: () => import('./commands/play.ts').then((m) => m.playCommand),
  },
  {
    name: 'endpoints',
    summary: 'the endpoint registry: address, clients, capacity, health',
    load: () => import('./commands/endpoints.ts').then((m) => m.endpointsCommand),
  },
  {
    name: 'endpoints shed',
    summary: 'tell endpoint ID to move N of its clients to other endpoints (they get `reconnect`)',
    args: ['<id>', '<clients>'],
    load: () => import('./commands/endpoints.ts').then((m) => m.endpointsShedCommand),
  },
  {
    name: 'exec',
    summary:
      'run a command on every host a selector names (all, a role, a host, a process id), output prefixed per host',
    args: ['<selector>', '[command...]'],
    load: () => import('./commands/exec.ts').then((m) => m.execCommand),
  },
  {
    name: 'ssh',
    summary: 'an interactive shell on a host, or on the host of a process',
    args: ['<target>'],
    load: () => import('./commands/ssh.ts').then((m) => m.sshCommand),
  },
  {
    name: 'watch',
    summary:
      "a movie's live feed as a user sees it, through a real endpoint: each tweet, its author and delay",
    args: ['<movie>'],
    load: () => import('./commands/watch.ts').then((m) => m.watchCommand),
  },
  {
    name: 'lock',
    summary: 'the deploy lock: who holds it and for how long (same as `god lock status`)',
    load: () => import('./commands/lock.ts').then((m) => m.lockStatusCommand),
  },
  {
    name: 'lock status',
    summary: 'the deploy lock: who holds it and for how long',
    load: () => import('./commands/lock.ts').then((m) => m.lockStatusCommand),
  },
  {
    name: 'lock release',
    summary: 'remove a deploy lock a dead run left behind (asks first; --yes in scripts)',
    load: () => import('./commands/lock.ts').then((m) => m.lockReleaseCommand),
  },
  {
    name: 'secrets',
    summary: "the config's secrets: names, sources and the roles that get them (never values)",
    load: () => import('./commands/secrets.ts').then((m) => m.secretsListCommand),
  },
  {
    name: 'secrets list',
    summary: "the config's secrets: names, sources and the roles that get them (never values)",
    load: () => import('./commands/secrets.ts').then((m) => m.secretsListCommand),
  },
  {
    name: 'secrets set',
    summary: 'store secret NAME in .god/secrets (0600, git-ignored), its value read from stdin',
    args: ['<name>'],
    load: () => import('./commands/secrets.ts').then((m) => m.secretsSetCommand),
  },
  {
    name: 'secrets push',
    summary: 'deliver the secrets to the hosts again and restart what uses them (rolling, health-checked)',
    load: () => import('./commands/secrets.ts').then((m) => m.secretsPushCommand),
  },
  {
    name: 'run',
    summary: 'run the local fleet in the foreground until Ctrl-C (other `god` commands can still talk to it)',
    load: () => import('./commands/run.ts').then((m) => m.runCommand),
  },
  {
    name: 'config',
    summary: 'check the config file and print it with every default filled in',
    load: () => import('./commands/config.ts').then((m) => m.configCommand),
  },
  {
    name: 'supervise',
    summary: 'the background local supervisor (started by `god up`)',
    hidden: true,
    load: () => import('./commands/run.ts').then((m) => m.superviseCommand),
  },
];
