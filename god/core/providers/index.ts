// The provider named by the config. ssh and ec2 are imported lazily: a local fleet never loads ssh2 or the AWS SDK.
import fs from 'node:fs';
import { UserError } from '../../../roles/runtime/errors.ts';
import type { Provider, ProviderContext, ProviderFactory } from './types.ts';

const MODULES = {
  local: './local.ts',
  ssh: './ssh.ts',
  ec2: './ec2.ts',
} as const;

export async function createProvider(ctx: ProviderContext): Promise<Provider> {
  const kind = ctx.config.provider;
  const url = new URL(MODULES[kind], import.meta.url);
  // a module that is not part of this build yet is a clear error, not a stack trace
  if (!fs.existsSync(url)) {
    throw new UserError(`provider ${kind} is not available in this build`, {
      code: 'GOD_PROVIDER',
      hint: 'Use provider: local, or update God to a version that ships this provider.',
    });
  }
  const mod = (await import(url.href)) as { createProvider?: ProviderFactory };
  if (typeof mod.createProvider !== 'function') {
    throw new UserError(`provider ${kind} does not export createProvider`, {
      code: 'GOD_PROVIDER',
      hint: `god/core/providers/${kind}.ts must export \`createProvider: ProviderFactory\` (see types.ts).`,
    });
  }
  return mod.createProvider(ctx);
}

export type { Provider, ProviderContext, ProviderFactory } from './types.ts';
