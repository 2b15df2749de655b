// Secrets never reach a log line: keys by name (pino redact) and known shapes inside strings.
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

/** Hide the password of a URL (a Redis URL: redis://:pw@host) for logs and errors. */
export function redactUrl(url: string): string {
  return url.replace(/(\/\/[^:/@]*:)[^@]*@/, '$1***@');
}

const PATTERNS: Array<[RegExp, string]> = [
  // user:password@ in URLs (redis://:pw@host, https://u:p@host)
  [/(\b[a-z][a-z0-9+.-]*:\/\/[^:/@\s"]*:)[^@\s"/]+@/gi, '$1***@'],
  [/(\bBearer\s+)[A-Za-z0-9._~+/%=-]{8,}/g, '$1***'],
  // AWS access key ids and secret-looking assignments
  [/\b(AKIA|ASIA)[A-Z0-9]{16}\b/g, '$1****************'],
  [
    /((?:password|passwd|secret|token|api[_-]?key|bearer_token|aws_secret_access_key)["']?\s*[=:]\s*["']?)[^"'\s,}&]+/gi,
    '$1***',
  ],
];

export function scrubSecrets(s: string): string {
  let out = s;
  for (const [re, rep] of PATTERNS) out = out.replace(re, rep);
  return out;
}
