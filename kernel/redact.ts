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

/** Query parameters that carry credentials (ioredis and others read `?password=`; Sentinel URLs `?sentinel_password=`). */
const SECRET_PARAM =
  /([?&;](?:[a-z]{1,20}_)?(?:password|passwd|pass|pwd|token|secret|auth|access_token|api_key|apikey)=)[^&#;\s"']*/gi;

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

/** A URL inside free text: up to whitespace, a quote or a bracket. Schemes are short: bounded, so no backtracking blow-up. */
const URL_IN_TEXT = /\b[a-z][a-z0-9+.-]{0,30}:\/\/[^\s"'<>`]+/gi;
/** The start of a URL with a password: scheme://user: */
const URL_USER = /\b[a-z][a-z0-9+.-]{0,30}:\/\/[^\s:/@"'<>]{0,256}:/gi;

/**
 * scheme://user:pass word@host — a password with spaces, which URL_IN_TEXT would cut at the first space: hide
 * everything up to the last `@` of the line (within quotes) that a host follows. A scan, not one regex, so a
 * long hostile line costs linear time.
 */
function scrubSpacedPasswords(s: string): string {
  if (!s.includes('://')) return s;
  let out = '';
  let from = 0;
  URL_USER.lastIndex = 0;
  for (let m = URL_USER.exec(s); m; m = URL_USER.exec(s)) {
    const start = m.index + m[0].length;
    if (start < from) continue;
    let end = start;
    while (end < s.length && !'\n"\'<>'.includes(s[end]!)) end++;
    const at = s.lastIndexOf('@', end - 1);
    if (at < start || !/\s/.test(s.slice(start, at)) || !/[\w[]/.test(s[at + 1] ?? '')) {
      // a later start in the same stretch has no better `@`: skip the stretch (keeps the scan linear)
      URL_USER.lastIndex = end;
      continue;
    }
    out += `${s.slice(from, start)}***`;
    from = at;
    URL_USER.lastIndex = at;
  }
  return from ? out + s.slice(from) : s;
}

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
  let out = scrubSpacedPasswords(s).replace(URL_IN_TEXT, redactUrl);
  for (const [re, rep] of PATTERNS) out = out.replace(re, rep);
  return out;
}

/** A key whose value is a secret whatever it holds (REDACT_PATHS' names, and FG_*_TOKEN-style env names). */
const SECRET_KEY = /pass(word|wd)?|token|secret|api_?key|authorization|credential|private_?key/i;

/**
 * A copy of `value` safe to show: values under secret-looking keys become `***`, every string goes through
 * scrubSecrets (URLs with passwords, bearer tokens, key=value secrets). For options and env shown on screen.
 */
export function redactFields(value: unknown, key = ''): unknown {
  if (key && SECRET_KEY.test(key) && value !== undefined && value !== null && value !== '') return '***';
  if (typeof value === 'string') return scrubSecrets(value);
  if (Array.isArray(value)) return value.map((v) => redactFields(v));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactFields(v, k)]));
  }
  return value;
}
