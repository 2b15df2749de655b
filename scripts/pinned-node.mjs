#!/usr/bin/env node
// Run a command with the project's pinned Node (god/core/deploy/runtime-pin.json), the one every release ships:
//   node scripts/pinned-node.mjs node_modules/vitest/vitest.mjs run test/protocol ...
// The runtime comes from God's cache (fetched once with npm, verified before every use), so CI tests exactly
// the binary the hosts run. Plain Node, no dependencies.
import { spawn } from 'node:child_process';
import { archOf, ensureRuntime, loadPin } from '../god/core/deploy/runtime-cache.mjs';

const say = (msg) => console.error(`pinned-node: ${msg}`);
const arch = archOf(process.arch);
if (process.platform !== 'linux' || !arch) {
  say(
    `the pinned runtime is built for linux x64/arm64; this is ${process.platform}-${process.arch}: skipped`,
  );
  process.exit(0);
}
let rt;
try {
  rt = await ensureRuntime(loadPin(), arch, { log: say });
} catch (err) {
  say(`${err.message}${err.hint ? `\n  ${err.hint}` : ''}`);
  process.exit(1);
}
say(`running on Node ${rt.version} (${rt.node}): ${process.argv.slice(2).join(' ')}`);
const child = spawn(rt.node, process.argv.slice(2), { stdio: 'inherit' });
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
