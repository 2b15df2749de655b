// The movie catalog file: a JSON array of {id, title, year?, aliases?}, validated with a clear error.
import fs from 'node:fs';
import { z } from 'zod';
import { type CatalogMovie, CatalogMovieSchema } from '../../protocol/redis-contract.ts';
import { UserError } from '../../kernel/errors.ts';

const CatalogSchema = z.array(CatalogMovieSchema).min(1, 'the catalog is empty');

export function parseCatalog(json: string, file: string): CatalogMovie[] {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (err) {
    throw new UserError(`catalog ${file} is not valid JSON: ${(err as Error).message}`, {
      code: 'FG_CATALOG',
      hint: 'The catalog is a JSON array of {"id": int, "title": str, "year"?: int, "aliases"?: [str]}.',
    });
  }
  const r = CatalogSchema.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new UserError(`catalog ${file}: ${i.path.length ? `[${i.path.join('].')}` : ''} ${i.message}`, {
      code: 'FG_CATALOG',
      hint: 'Each entry needs an integer "id" and a non-empty "title"; "year" is an integer, "aliases" strings.',
    });
  }
  const seen = new Set<number>();
  for (const m of r.data) {
    if (seen.has(m.id)) {
      throw new UserError(`catalog ${file}: movie id ${m.id} appears twice`, {
        code: 'FG_CATALOG',
        hint: 'Give every movie its own id.',
      });
    }
    seen.add(m.id);
  }
  return r.data;
}

export function loadCatalog(file: string): CatalogMovie[] {
  let json: string;
  try {
    json = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new UserError(`cannot read catalog ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`, {
      code: 'FG_CATALOG',
      hint: 'Pass --catalog (FG_CATALOG) the path of a catalog JSON file, e.g. data/movies.json.',
    });
  }
  return parseCatalog(json, file);
}
