// Bundles each role into one self-contained ESM file (dist/roles/<role>.mjs): what God ships to hosts.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const version = process.env.FG_BUILD_VERSION || pkg.version;
const roles = ['feeder', 'endpoint', 'keeper'].filter((r) =>
  fs.existsSync(path.join(root, 'roles', r, 'main.ts')),
);
const argOut = process.argv.indexOf('--outdir');
const outdir = path.resolve(
  argOut > 0 ? process.argv[argOut + 1] : process.env.FG_BUILD_OUTDIR || path.join(root, 'dist', 'roles'),
);
// Build beside the target and rename into place, so a reader (a deploy, a test) never sees half a file.
const tmpdir = `${outdir}.tmp-${process.pid}`;
fs.mkdirSync(outdir, { recursive: true });
fs.mkdirSync(tmpdir, { recursive: true });

const started = Date.now();
await build({
  entryPoints: Object.fromEntries(roles.map((r) => [r, path.join(root, 'roles', r, 'main.ts')])),
  outdir: tmpdir,
  outExtension: { '.js': '.mjs' },
  bundle: true,
  platform: 'node',
  target: 'node22', // see manifest.engines
  format: 'esm',
  minify: false,
  sourcemap: false,
  legalComments: 'none',
  logLevel: 'warning',
  define: { __FG_VERSION__: JSON.stringify(version) },
  // bundled CommonJS dependencies call require() for Node built-ins
  banner: {
    js: "#!/usr/bin/env node\nimport { createRequire as __fgCreateRequire } from 'node:module';\nconst require = __fgCreateRequire(import.meta.url);",
  },
});
// the roles run on the Node every release carries (god/core/deploy/runtime-pin.json: 24), 22 still supported
const manifest = { version, built_at: new Date().toISOString(), engines: { node: '>=22' }, roles: {} };
for (const r of roles) {
  const f = path.join(tmpdir, `${r}.mjs`);
  fs.chmodSync(f, 0o755);
  manifest.roles[r] = { file: `${r}.mjs`, bytes: fs.statSync(f).size };
  fs.renameSync(f, path.join(outdir, `${r}.mjs`));
}
fs.writeFileSync(path.join(tmpdir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
fs.renameSync(path.join(tmpdir, 'manifest.json'), path.join(outdir, 'manifest.json'));
fs.rmSync(tmpdir, { recursive: true, force: true });
console.log(
  `built ${roles.map((r) => path.relative(process.cwd(), path.join(outdir, `${r}.mjs`))).join(', ')} (version ${version}) in ${Date.now() - started} ms`,
);
