// Secrets never reach a log line: keys by name (pino redact) and known shapes inside strings.
// redactUrl is the one function every printed or logged URL goes through (God's output, role logs, errors).
export const REDACT_PATHS = [
  'password',
  'token',
  'secret',
  'apiKey',
  'authorization',
  'bearerToken',
  'accessKeyId',
  'secretAccessKey',
  'sessionToken',
  '*.password',
  '*.token',
  '*.secret',
  '*.apiKey',
  '*.authorization',
  '*.bearerToken',
  '*.secretAccessKey',
  '*.sessionToken',
  '*.headers.authorization',
];

/** Query parameters that carry credentials (ioredis and others read `?password=`). */
const SECRET_PARAM =
  /([?&;](?:password|passwd|pass|pwd|token|secret|auth|access_token|api_key|apikey)=)[^&#;\s"']*/gi;

/**
 * Hide the credentials of a URL: the password (or a user-only token) in the userinfo, and secret query
 * parameters. The userinfo ends at the LAST `@`, so passwords with `@`, `/`, spaces or `:` are hidden whole
 * (an `@` in a path is hidden too: erring on the safe side).
 */
export function redactUrl(url: string): string {
  const m = /^(\s*[a-z][a-z0-9+.-]*:\/\/)([\s\S]*)$/i.exec(url);
  if (!m) return url.replace(SECRET_PARAM, '$1***');
  const scheme = m[1]!;
  let rest = m[2]!;
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    const userinfo = rest.slice(0, at);
    const colon = userinfo.indexOf(':');
    // user:password → keep the user; a lone user part may itself be a token (https://TOKEN@host)
    rest = `${colon >= 0 && !/[/?#\s]/.test(userinfo.slice(0, colon)) ? userinfo.slice(0, colon + 1) : ''}***@${rest.slice(at + 1)}`;
  }
  return scheme + rest.replace(SECRET_PARAM, '$1***');
}

/** A URL inside free text: up to whitespace, a quote or a bracket. */
const URL_IN_TEXT = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>`]+/gi;
/** scheme://user:pass word@host — a password with spaces: up to the last `@` of the line that a host follows. */
const URL_SPACED_PASSWORD = /(\b[a-z][a-z0-9+.-]*:\/\/[^\s:/@"'<>]*:)[^\n"'<>]*\s[^\n"'<>]*@(?=[\w[])/gi;

const PATTERNS: Array<[RegExp, string]> = [
  [/(\bBearer\s+)[A-Za-z0-9._~+/%=-]{8,}/g, '$1***'],
  // AWS access key ids and secret-looking assignments
  [/\b(AKIA|ASIA)[A-Z0-9]{16}\b/g, '$1****************'],
  [
    /((?:password|passwd|secret|token|api[_-]?key|bearer_token|aws_secret_access_key)["']?\s*[=:]\s*["']?)[^"'\s,}&]+/gi,
    '$1***',
  ],
];

export function scrubSecrets(s: string): string {
  let out = s.replace(URL_SPACED_PASSWORD, '$1***@').replace(URL_IN_TEXT, redactUrl);
  for (const [re, rep] of PATTERNS) out = out.replace(re, rep);
  return out;
}
