// The runtime a release carries: the Node pinned in runtime-pin.json, fetched once into God's cache and
// verified before use (runtime-cache.mjs), installed on a host under <base_dir>/runtimes/<name>/ once, and
// linked from each release as `node`, so that switching `current` (a deploy, a rollback) switches Node too.
import { UserError, isErrorCode } from '../../../kernel/errors.ts';
import {
  type CachedRuntime,
  ensureRuntime,
  loadPin,
  type RuntimeArch,
  type RuntimePin,
  archOf as runtimeArchOf,
  runtimeName,
} from './runtime-cache.mjs';

export type { CachedRuntime, RuntimeArch, RuntimePin };
export { runtimeName };

/** The project's runtime (Node 24 LTS). */
export const RUNTIME_PIN: RuntimePin = loadPin();

function asUserError(err: unknown): unknown {
  const e = err as { message?: string; code?: unknown; hint?: string };
  if (err instanceof Error && isErrorCode(e.code)) {
    return new UserError(err.message, { code: e.code, hint: e.hint, cause: err });
  }
  return err;
}

/** Node's arch for a host's `uname -m`, or a clear error naming the host. */
export function hostArch(host: string, machine: string, pin: RuntimePin): RuntimeArch {
  const arch = runtimeArchOf(machine);
  if (!arch || !pin.arches[arch]) {
    throw new UserError(
      `${host} is a ${machine || 'unknown'} machine; the release's Node ${pin.version} is pinned for ${Object.keys(pin.arches).join(', ')} only`,
      { code: 'GOD_RUNTIME_ARCH' },
    );
  }
  return arch;
}

const pending = new Map<string, Promise<CachedRuntime>>();

/** The verified cached runtime (one fetch per pin and arch however many hosts ask at once). */
export function cachedRuntime(
  pin: RuntimePin,
  arch: RuntimeArch,
  o: { dir?: string; log?: (msg: string) => void } = {},
): Promise<CachedRuntime> {
  const key = `${o.dir ?? ''}:${pin.version}:${arch}:${pin.arches[arch]?.integrity}`;
  let p = pending.get(key);
  if (!p) {
    p = ensureRuntime(pin, arch, o).catch((err) => {
      pending.delete(key);
      throw asUserError(err);
    });
    pending.set(key, p);
    // a later call verifies again (a cache entry corrupted since is refused, not trusted from memory)
    void p.then(
      () => pending.delete(key),
      () => {},
    );
  }
  return p;
}

/** "sha512-<base64>" → hex, for `sha512sum -c` on a host */
export function integrityHex(integrity: string): string {
  return Buffer.from(integrity.replace(/^sha512-/, ''), 'base64').toString('hex');
}
