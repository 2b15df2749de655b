// A CLI command's change as an audit record (god/core/audit.ts): its arguments and options (secret ones
// hidden, by their option spec), the global flags, and how it ended. Loaded only after an audited command ran.
import { auditOptions, auditRecord, recordAudit } from '../core/audit.ts';
import type { CliContext } from './context.ts';
import { type CommandSpec, GLOBAL_OPTIONS, type GlobalOptions } from './spec.ts';

export async function auditCommand(
  ctx: CliContext,
  o: {
    name: string;
    spec: CommandSpec;
    args: string[];
    opts: Record<string, unknown>;
    globals: GlobalOptions;
    startedAt: number;
    failure?: { error: unknown };
    exit: number;
  },
): Promise<void> {
  const specs: Record<string, object> = { ...GLOBAL_OPTIONS, ...(o.spec.options ?? {}) };
  const secret = (k: string) => (specs[k] as { secret?: boolean } | undefined)?.secret === true;
  const options = auditOptions({ ...o.globals, ...o.opts }, secret);
  const record = auditRecord({
    action: o.name,
    startedAt: o.startedAt,
    args: o.args,
    options,
    error: o.failure?.error,
    exit: o.exit,
    env: ctx.env,
  });
  let config: CliContext['loaded'];
  try {
    config = ctx.loaded;
  } catch {
    return; // the config does not load: the command changed nothing
  }
  await recordAudit(record, {
    redis: () => ctx.redis(),
    config: config.config,
    baseDir: config.baseDir,
    events: ctx.events,
    env: ctx.env,
  });
}
