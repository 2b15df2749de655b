// Runs a TypeScript entry point through tsx, so the bins work right after `npm ci` without a build.
import { register } from 'tsx/esm/api';

export async function run(entry) {
  register();
  await import(new URL(entry, import.meta.url).href);
}
