// Layering of what the playbook steps share with the keeper: God reaches the archive and the endpoint-list
// writer through protocol/, never through roles/keeper/ internals, and protocol/ imports no role or God code.
import fs from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** Every import specifier (static and dynamic) of the .ts/.tsx files under `dir`, with the file it is in. */
function importsUnder(dir: string): Array<{ file: string; spec: string }> {
  const out: Array<{ file: string; spec: string }> = [];
  for (const name of fs.readdirSync(path.join(ROOT, dir), { recursive: true }) as string[]) {
    if (!/\.tsx?$/.test(name)) continue;
    const file = path.join(dir, name);
    const text = fs.readFileSync(path.join(ROOT, file), 'utf8');
    for (const m of text.matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)) out.push({ file, spec: m[1]! });
  }
  return out;
}

/** The repo path an import resolves to (relative specifiers only). */
const target = (i: { file: string; spec: string }) =>
  i.spec.startsWith('.') ? path.relative(ROOT, path.resolve(ROOT, path.dirname(i.file), i.spec)) : i.spec;

it('God imports nothing of roles/keeper/ (the archive and endpoints.json are shared through protocol/)', () => {
  const bad = importsUnder('god').filter((i) => target(i).startsWith(`roles${path.sep}keeper`));
  expect(bad).toEqual([]);
});

it('protocol/ imports no role or God code', () => {
  const bad = importsUnder('protocol').filter((i) =>
    /^(roles|god)\//.test(target(i).split(path.sep).join('/')),
  );
  expect(bad).toEqual([]);
});

it("God reaches roles/ only through their public entries (the option specs and the runtime's index)", () => {
  const PUBLIC = new Set(['roles/options.ts', 'roles/runtime/index.ts']);
  const bad = importsUnder('god').filter((i) => {
    const t = target(i).split(path.sep).join('/');
    return t.startsWith('roles/') && !PUBLIC.has(t);
  });
  expect(bad).toEqual([]);
});

it('the roles and God import nothing of each other beyond that, and kernel/ imports neither', () => {
  const bad = importsUnder('kernel').filter((i) =>
    /^(roles|god)\//.test(target(i).split(path.sep).join('/')),
  );
  expect(bad).toEqual([]);
  const rolesIntoGod = importsUnder('roles').filter((i) =>
    target(i).split(path.sep).join('/').startsWith('god/'),
  );
  expect(rolesIntoGod).toEqual([]);
});
