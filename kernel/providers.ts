// Where a fleet runs. The one list of provider kinds: God's config, playbooks and providers read it.
import { z } from 'zod';

export const PROVIDER_KINDS = ['local', 'ssh', 'ec2'] as const;
export const ProviderKindSchema = z.enum(PROVIDER_KINDS);
export type ProviderKind = (typeof PROVIDER_KINDS)[number];
