// Endpoint options: each a flag and an env var.
import { z } from 'zod';
import { boolFlag, intFrom } from '../../kernel/flags.ts';
import type { OptionsSpec } from '../../kernel/options.ts';
import { durationMs } from '../../kernel/units.ts';

export const endpointOptions = {
  port: {
    flag: '--port <port>',
    env: 'FG_ENDPOINT_PORT',
    description: 'TCP port to listen on (0 picks a free one; the log line `listening` names it)',
    schema: intFrom(0, 65535),
    default: '7070',
  },
  host: {
    flag: '--host <address>',
    env: 'FG_ENDPOINT_HOST',
    description: 'address to listen on',
    schema: z.string().min(1),
    default: '0.0.0.0',
  },
  publicHost: {
    flag: '--public-host <host>',
    env: 'FG_ENDPOINT_PUBLIC_HOST',
    description:
      'host name clients use to reach this endpoint, published in the registry (default: --host, or the machine name when listening on every address)',
    schema: z.string().min(1).optional(),
  },
  tlsCert: {
    flag: '--tls-cert <file>',
    env: 'FG_ENDPOINT_TLS_CERT',
    description: 'PEM certificate (chain) file: serve TLS instead of plain TCP (needs --tls-key)',
    schema: z.string().min(1).optional(),
  },
  tlsKey: {
    flag: '--tls-key <file>',
    env: 'FG_ENDPOINT_TLS_KEY',
    description: 'PEM private key file of --tls-cert',
    schema: z.string().min(1).optional(),
  },
  maxClients: {
    flag: '--max-clients <n>',
    env: 'FG_ENDPOINT_MAX_CLIENTS',
    description: 'hard limit of connected clients; beyond it new connections get `server_full`',
    schema: intFrom(1),
    default: '100000',
  },
  softLimit: {
    flag: '--soft-limit <n>',
    env: 'FG_ENDPOINT_SOFT_LIMIT',
    description:
      'above this many clients new connections are sent to a less loaded endpoint when one exists (default: 80% of --max-clients)',
    schema: intFrom(1).optional(),
  },
  sync: {
    flag: '--sync <duration>',
    env: 'FG_ENDPOINT_SYNC',
    description: 'ranking (set_movies) is read from Redis at most once per this period',
    schema: durationMs,
    default: '2s',
  },
  idleTimeout: {
    flag: '--idle-timeout <duration>',
    env: 'FG_ENDPOINT_IDLE_TIMEOUT',
    description: 'close a client that sent no complete line for this long (`idle_timeout`)',
    schema: durationMs,
    default: '90s',
  },
  connectTimeout: {
    flag: '--connect-timeout <duration>',
    env: 'FG_ENDPOINT_CONNECT_TIMEOUT',
    description: 'close a client that has not sent `connect` this long after it arrived (`connect_timeout`)',
    schema: durationMs,
    default: '10s',
  },
  maxPerIp: {
    flag: '--max-per-ip <n>',
    env: 'FG_ENDPOINT_MAX_PER_IP',
    description:
      'connections one client address may hold; beyond it `too_many_connections` (room for a mobile carrier NAT)',
    schema: intFrom(1),
    default: '256',
  },
  rateLimit: {
    flag: '--rate-limit <per-second>',
    env: 'FG_ENDPOINT_RATE_LIMIT',
    description: 'messages per second a client may send on average (`rate_limited` beyond)',
    schema: z.coerce.number().positive(),
    default: '20',
  },
  rateBurst: {
    flag: '--rate-burst <n>',
    env: 'FG_ENDPOINT_RATE_BURST',
    description: 'messages a client may send at once before --rate-limit applies',
    schema: intFrom(1),
    default: '40',
  },
  maxQueue: {
    flag: '--max-queue <bytes>',
    env: 'FG_ENDPOINT_MAX_QUEUE',
    description: 'bytes queued for one client that does not read; beyond it `slow_consumer` and close',
    schema: intFrom(1024),
    default: '262144',
  },
  unlisted: {
    flag: '--unlisted',
    env: 'FG_ENDPOINT_UNLISTED',
    description:
      'stay out of the registry (so out of endpoints.json and of redirects) until God admits this endpoint at its release, after its health check',
    schema: boolFlag.default(false),
  },
  drainGrace: {
    flag: '--drain-grace <duration>',
    env: 'FG_ENDPOINT_DRAIN_GRACE',
    description: 'on stop, how long clients told to `reconnect` elsewhere get to leave before being cut',
    schema: durationMs,
    default: '3s',
  },
  moviesShown: {
    flag: '--movies-shown <n>',
    env: 'FG_ENDPOINT_MOVIES_SHOWN',
    description:
      'set_movies lists at least this many movies while the catalog has them: after the ranked ones come catalog movies with count 0 (0: ranked ones only)',
    schema: intFrom(0, 100_000),
    default: '20',
  },
  // Signed connections (auth.ts): on when a secret (FG_AUTH_SECRET or the file) or a JWKS is given.
  authSecretFile: {
    flag: '--auth-secret-file <file>',
    env: 'FG_AUTH_SECRET_FILE',
    description:
      "file holding the HS256 secret (32+ bytes) that signs client tokens (or set FG_AUTH_SECRET, e.g. through God's secrets:; never a flag): connect must carry a valid token",
    schema: z.string().min(1).optional(),
  },
  authJwks: {
    flag: '--auth-jwks <file>',
    env: 'FG_AUTH_JWKS',
    description:
      'JWKS file of the public keys that sign client tokens (re-read when it changes: rotate keys by rewriting it): connect must carry a valid token',
    schema: z.string().min(1).optional(),
  },
  authAudience: {
    flag: '--auth-audience <aud>',
    env: 'FG_AUTH_AUDIENCE',
    description: 'the `aud` client tokens must carry (required with auth on)',
    schema: z.string().min(1).optional(),
  },
  authIssuer: {
    flag: '--auth-issuer <iss>',
    env: 'FG_AUTH_ISSUER',
    description: 'the `iss` client tokens must carry (default: any)',
    schema: z.string().min(1).optional(),
  },
  authAlgorithms: {
    flag: '--auth-algorithms <list>',
    env: 'FG_AUTH_ALGORITHMS',
    description:
      'comma-separated JWS algorithms accepted (default: HS256 with a secret; RS256,PS256,ES256,EdDSA with a JWKS; never none)',
    schema: z.string().min(1).optional(),
  },
  authLeeway: {
    flag: '--auth-leeway <duration>',
    env: 'FG_AUTH_LEEWAY',
    description:
      "clock leeway for a token's exp and nbf (whole seconds); a session is closed this long after its token expired",
    schema: durationMs,
    default: '5s',
  },
} satisfies OptionsSpec;
