// The provider named by the config. Each is imported when first asked for: a local fleet never loads ssh2 or
// the AWS SDK.
import type { Provider, ProviderContext, ProviderFactory } from './types.ts';

const LOADERS: Record<
  ProviderContext['config']['provider'],
  () => Promise<{ createProvider: ProviderFactory }>
> = {
  local: () => import('./local.ts'),
  ssh: () => import('./ssh.ts'),
  ec2: () => import('./ec2.ts'),
};

export async function createProvider(ctx: ProviderContext): Promise<Provider> {
  const mod = await LOADERS[ctx.config.provider]();
  return mod.createProvider(ctx);
}

export type { Provider, ProviderContext, ProviderFactory } from './types.ts';
