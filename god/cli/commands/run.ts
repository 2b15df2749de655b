// `god run`: the local fleet in the foreground (Ctrl-C stops everything); `god supervise` is the same without
// starting any role, run in the background by `god up`.
import { UserError } from '../../../kernel/errors.ts';
import { redactUrl } from '../../../kernel/redact.ts';
import { runSupervisor } from '../../core/local/daemon.ts';
import { resolveStateDir } from '../../core/local/state.ts';
import type { CliContext } from '../context.ts';
import { defineCommand } from '../spec.ts';

async function supervise(ctx: CliContext, initial: 'config' | undefined): Promise<number> {
  const { config, baseDir, file } = ctx.loaded;
  if (config.provider !== 'local') {
    throw new UserError(`god run needs the local provider; the config says ${config.provider}`, {
      code: 'GOD_USAGE',
      hint: 'Use `god up` / `god deploy` for ssh and ec2 fleets.',
    });
  }
  const stateDir = resolveStateDir({
    flag: ctx.opts.stateDir,
    configured: config.local.state_dir,
    baseDir,
    cwd: ctx.cwd,
  });
  const { fleet, done } = await runSupervisor({
    config,
    baseDir,
    stateDir,
    configFile: file,
    dist: ctx.opts.dist || config.local.dist,
    events: ctx.events,
    initial,
  });
  // the private Redis has a password: the URL is shown redacted (roles get it in their environment)
  const redis = redactUrl(fleet.redisUrl);
  ctx.events.emit({
    type: 'info',
    message: `local fleet running (redis ${redis}, state ${stateDir}); ${initial ? 'Ctrl-C stops it' : 'waiting for commands'}`,
    data: { redis_url: redis, state_dir: stateDir, pid: process.pid },
  });
  await done;
  ctx.out.result('run', { stopped: true, state_dir: stateDir }, () => ['local fleet stopped']);
  return 0;
}

export const runCommand = defineCommand({
  run: (ctx) => supervise(ctx, 'config'),
});

export const superviseCommand = defineCommand({
  run: (ctx) => supervise(ctx, undefined),
});
