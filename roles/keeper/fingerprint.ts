// Which logged exceptions are "the same": error type + message with numbers blanked + the top stack frames
// without line/column numbers or folders (a redeploy to another path or a changed line keeps the fingerprint).
import { createHash } from 'node:crypto';

export interface LoggedError {
  type?: string;
  message?: string;
  stack: string;
}

/** The `err` (or `error`) of a pino log line when it carries a stack, else undefined. */
export function errorOfLine(obj: unknown): LoggedError | undefined {
  if (!obj || typeof obj !== 'object') return undefined;
  const o = obj as Record<string, unknown>;
  for (const k of ['err', 'error']) {
    const e = o[k] as Record<string, unknown> | undefined;
    if (e && typeof e === 'object' && typeof e.stack === 'string' && e.stack.includes('\n')) {
      return {
        type: typeof e.type === 'string' ? e.type : undefined,
        message: typeof e.message === 'string' ? e.message : undefined,
        stack: e.stack,
      };
    }
  }
  return undefined;
}

export function normalizeMessage(m: string): string {
  return m
    .replace(/0x[0-9a-f]+/gi, '#')
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, '#')
    .replace(/\d+/g, '#')
    .trim();
}

export function normalizeFrames(stack: string, max = 8): string[] {
  return stack
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('at '))
    .slice(0, max)
    .map((l) =>
      l
        .replace(/:\d+:\d+(?=\)?$)/, '') // line:column
        .replace(/(?:file:\/\/)?(?:[A-Za-z]:)?[^\s()]*[\\/]/g, '') // folders
        .replace(/\?[^)\s]*/, ''),
    );
}

export function fingerprint(e: LoggedError): string {
  const firstLine = e.stack.split('\n', 1)[0] ?? '';
  const msg = normalizeMessage(e.message ?? firstLine);
  const h = createHash('sha1');
  h.update(`${e.type ?? ''}\n${msg}\n${normalizeFrames(e.stack).join('\n')}`);
  return h.digest('hex').slice(0, 16);
}
