// The fleet's admin token as God holds it: the secret the roles get as FG_ADMIN_TOKEN (their admin listeners
// require it, roles/runtime/admin.ts), resolved the way every secret is (God's env, .god/secrets, AWS). God
// sends it to /readyz (status, deploy and up health); it is never printed, logged or put in an event.
import type { SecretsContext } from './resolve.ts';
import { resolveSecrets } from './resolve.ts';

/** The variable the roles' admin listeners read their token from. */
export const ADMIN_TOKEN_ENV = 'FG_ADMIN_TOKEN';

export type AdminToken = { token?: string; error?: string };

/**
 * The token, or none when no secret goes to FG_ADMIN_TOKEN; a secret that has no value yet is an `error` (said
 * by status next to the heartbeat fallback), not a failure: status must still show the fleet.
 */
export async function adminTokenOf(c: SecretsContext): Promise<AdminToken> {
  const entry = Object.entries(c.config.secrets ?? {}).find(([, s]) => s.env === ADMIN_TOKEN_ENV);
  if (!entry) return {};
  const [name, secret] = entry;
  try {
    // only this secret: a missing unrelated one must not cost status its token
    const [resolved] = await resolveSecrets({ ...c, config: { ...c.config, secrets: { [name]: secret } } });
    return { token: resolved?.value };
  } catch (err) {
    return { error: `admin token (secret ${name}): ${(err as Error).message}` };
  }
}
