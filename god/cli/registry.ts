// Every `god` command, in help order. Add a command with one import and one line in the array.
import { configCommand } from './commands/config.ts';
import { deployCommand } from './commands/deploy.ts';
import { demoCommand } from './commands/demo.ts';
import { dashboardCommand } from './commands/dashboard.ts';
import { endpointsCommand, endpointsShedCommand } from './commands/endpoints.ts';
import { logsCommand } from './commands/logs.ts';
import { playCommand } from './commands/play.ts';
import { rollbackCommand } from './commands/rollback.ts';
import { runCommand, superviseCommand } from './commands/run.ts';
import { downCommand, restartCommand, upCommand } from './commands/scale.ts';
import { statusCommand } from './commands/status.ts';
import type { CommandSpec } from './context.ts';

export const commands: CommandSpec[] = [
  dashboardCommand,
  demoCommand,
  statusCommand,
  logsCommand,
  upCommand,
  downCommand,
  restartCommand,
  deployCommand,
  rollbackCommand,
  playCommand,
  endpointsCommand,
  endpointsShedCommand,
  runCommand,
  configCommand,
  superviseCommand,
];
