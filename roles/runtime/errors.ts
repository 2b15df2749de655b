// Errors meant for a person: what went wrong, and what to do next.
export class UserError extends Error {
  readonly hint?: string;
  readonly code: string;
  constructor(message: string, opts: { hint?: string; code?: string; cause?: unknown } = {}) {
    super(message, { cause: opts.cause });
    this.name = 'UserError';
    this.hint = opts.hint;
    this.code = opts.code ?? 'FG_ERROR';
  }
}

export function formatUserError(err: unknown): string {
  if (err instanceof UserError) {
    return `Error [${err.code}]: ${err.message}${err.hint ? `\n  → ${err.hint.replace(/\n/g, '\n    ')}` : ''}`;
  }
  const e = err as Error;
  return `Error: ${e?.stack ?? String(err)}`;
}
