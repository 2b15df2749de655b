// The Node runtimes a bench can run its measured process on (`--runtimes current,pinned`, BENCH_RUNTIMES):
// `current` is the Node running the bench, `pinned` the one every release ships (god/core/deploy/runtime-pin.json,
// from God's cache, verified like a deploy does). Issue 15: what the runtime change does to each role.
import { archOf, ensureRuntime, loadPin } from '../god/core/deploy/runtime-cache.mjs';

export interface BenchRuntime {
  /** `current` or `pinned` */
  name: string;
  /** the node binary to spawn */
  node: string;
  /** v20.20.2 */
  version: string;
}

export async function benchRuntimes(spec: string): Promise<BenchRuntime[]> {
  const out: BenchRuntime[] = [];
  for (const name of spec.split(',').map((s) => s.trim())) {
    if (name === 'current') out.push({ name, node: process.execPath, version: process.version });
    else if (name === 'pinned') {
      const arch = archOf(process.arch);
      if (process.platform !== 'linux' || !arch)
        throw new Error(
          `--runtimes pinned: the pinned runtime is built for linux x64/arm64, not ${process.arch}`,
        );
      const rt = await ensureRuntime(loadPin(), arch);
      out.push({ name, node: rt.node, version: `v${rt.version.replace(/^v/, '')}` });
    } else
      throw new Error(`--runtimes: "${name}" is not a runtime; use current, pinned or both (current,pinned)`);
  }
  if (!out.length) throw new Error('--runtimes: name at least one (current, pinned)');
  return out;
}
