// The version a process reports: --release/FG_RELEASE, else the one baked into the bundle, else package.json.
import fs from 'node:fs';

declare const __FG_VERSION__: string | undefined;

export function builtVersion(): string {
  if (typeof __FG_VERSION__ === 'string') return __FG_VERSION__;
  try {
    const pkg = JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    return `${pkg.version}-dev`;
  } catch {
    return 'dev';
  }
}
