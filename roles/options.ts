// Every role's option specs (its own and the ones all roles take), keyed by role: the public entry God reads
// them through (its config sets some of them, as the roles' env vars; god/core/config/role-env.ts).
import type { OptionsSpec } from '../kernel/options.ts';
import type { Role } from '../protocol/redis-contract.ts';
import { endpointOptions } from './endpoint/options.ts';
import { feederOptions } from './feeder/options.ts';
import { keeperOptions } from './keeper/options.ts';
import { commonOptions } from './runtime/config.ts';

export const ROLE_OPTIONS = {
  feeder: { ...commonOptions, ...feederOptions },
  endpoint: { ...commonOptions, ...endpointOptions },
  keeper: { ...commonOptions, ...keeperOptions },
} satisfies Record<Role, OptionsSpec>;

export { commonOptions, endpointOptions, feederOptions, keeperOptions };
