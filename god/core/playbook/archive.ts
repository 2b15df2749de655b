// The archive a playbook step reads (`logs_archived`) or publishes to (`publish_endpoints`). The reading
// itself is god/core/archive-reader.ts, shared with `god logs --since`.
import { UserError } from '../../../kernel/errors.ts';
import { keeperArchiveUrl } from '../archive-reader.ts';
import type { PlayContext } from './context.ts';

/** The archive a step means: its own `target`/`archive`, else the keeper's (the config's, or the provider's default). */
export function archiveUrl(
  pc: PlayContext,
  target: string | undefined,
  step: string,
  option: string,
): string {
  const own = keeperArchiveUrl(target ?? pc.config.roles.keeper.options.archive, pc.cwd, pc.provider);
  if (own) return own;
  throw new UserError(`${step}: no ${option}, and the config names no keeper archive`, {
    code: 'GOD_PLAYBOOK',
    hint: `Give the step a ${option} (s3://BUCKET/PREFIX or file://DIR) or set roles.keeper.options.archive.`,
  });
}

export { ArchiveReader } from '../archive-reader.ts';
