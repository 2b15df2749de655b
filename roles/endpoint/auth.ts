// Signed connections: the endpoint verifies the JWT a client sends on `connect` / `refresh_token` with a
// shared HS256 secret or the public keys of a JWKS file (re-read when it changes, for key rotation). A token is
// never logged or echoed: failures are reported by a fixed reason (AuthFailure.reason).
import fs from 'node:fs';
import * as jose from 'jose';
import { UserError } from '../../kernel/errors.ts';

/** Tokens signed with the shared secret. */
export const SECRET_ALGORITHMS = ['HS256'] as const;
/** Default allow-list for a JWKS (asymmetric only: a JWKS of public keys signs nothing with HMAC). */
export const JWKS_ALGORITHMS = ['RS256', 'PS256', 'ES256', 'EdDSA'] as const;
/** A JWKS file is looked at again (stat) at most this often, and at once when a token names an unknown kid. */
const JWKS_RECHECK_MS = 1000;

export type AuthReason =
  | 'missing'
  | 'malformed'
  | 'algorithm'
  | 'signature'
  | 'unknown_key'
  | 'expired'
  | 'not_yet_valid'
  | 'audience'
  | 'issuer'
  | 'no_exp'
  | 'subject_changed';

/** What each reason tells the client (PROTOCOL.md lists them). Never the token. */
export const AUTH_REASON_TEXT: Record<AuthReason, string> = {
  missing: 'this endpoint requires a token: send "token" (a JWT) in connect',
  malformed: 'the token is not a valid JWT',
  algorithm: 'the token is signed with an algorithm this endpoint does not accept',
  signature: 'the token signature does not verify',
  unknown_key: 'the token is signed with a key this endpoint does not know (kid)',
  expired: 'the token has expired (exp); get a new one',
  not_yet_valid: 'the token is not valid yet (nbf)',
  audience: 'the token is for another audience (aud)',
  issuer: 'the token is from another issuer (iss)',
  no_exp: 'the token has no expiry (exp)',
  subject_changed: 'the new token is for another subject (sub) than the session',
};

export class AuthFailure extends Error {
  constructor(readonly reason: AuthReason) {
    super(AUTH_REASON_TEXT[reason]);
  }
}

export interface VerifiedToken {
  /** when the token expires (ms since the epoch) */
  expMs: number;
  sub?: string;
}

export interface AuthSettings {
  /** HS256 shared secret (from FG_AUTH_SECRET or --auth-secret-file) */
  secret?: Uint8Array;
  /** JWKS file of public keys */
  jwksFile?: string;
  audience: string;
  issuer?: string;
  algorithms?: string[];
  /** leeway for the clocks of the token's issuer and of this endpoint (exp, nbf), ms */
  leewayMs: number;
}

type KeyInput = Uint8Array | ReturnType<typeof jose.createLocalJWKSet>;

/** Map a jose error to the reason the client is told. */
function reasonOf(err: unknown): AuthReason {
  if (err instanceof jose.errors.JWTExpired) return 'expired';
  if (err instanceof jose.errors.JWTClaimValidationFailed) {
    if (err.claim === 'nbf') return 'not_yet_valid';
    if (err.claim === 'aud') return 'audience';
    if (err.claim === 'iss') return 'issuer';
    if (err.claim === 'exp') return err.reason === 'missing' ? 'no_exp' : 'expired';
    return 'malformed';
  }
  if (err instanceof jose.errors.JOSEAlgNotAllowed) return 'algorithm';
  if (err instanceof jose.errors.JWSSignatureVerificationFailed) return 'signature';
  if (err instanceof jose.errors.JWKSNoMatchingKey || err instanceof jose.errors.JWKSMultipleMatchingKeys)
    return 'unknown_key';
  return 'malformed';
}

export class TokenVerifier {
  private key: KeyInput;
  private jwksStamp = '';
  private jwksCheckedAt = 0;
  readonly algorithms: string[];
  /** a session is closed this long after its token's exp */
  readonly leewayMs: number;

  constructor(private readonly s: AuthSettings) {
    this.leewayMs = Math.floor(s.leewayMs / 1000) * 1000;
    if (!!s.secret === !!s.jwksFile) {
      throw new UserError('endpoint: auth needs exactly one of a secret and a JWKS file', {
        code: 'FG_AUTH',
      });
    }
    this.algorithms = s.algorithms ?? [...(s.secret ? SECRET_ALGORITHMS : JWKS_ALGORITHMS)];
    if (this.algorithms.some((a) => a.toLowerCase() === 'none')) {
      throw new UserError('endpoint: --auth-algorithms may not allow "none" (unsigned tokens)', {
        code: 'FG_AUTH',
      });
    }
    this.key = s.secret ?? this.loadJwks(true)!;
  }

  /** Read the JWKS file when it changed (mtime, size, inode); a broken new file keeps the previous keys. */
  private loadJwks(first: boolean): KeyInput | undefined {
    const file = this.s.jwksFile!;
    try {
      const st = fs.statSync(file);
      const stamp = `${st.ino}:${st.size}:${st.mtimeMs}`;
      this.jwksCheckedAt = Date.now();
      if (!first && stamp === this.jwksStamp) return undefined;
      const set = jose.createLocalJWKSet(JSON.parse(fs.readFileSync(file, 'utf8')) as jose.JSONWebKeySet);
      this.jwksStamp = stamp;
      return set;
    } catch (err) {
      if (!first) return undefined;
      throw new UserError(`endpoint: cannot read the JWKS file ${file}: ${(err as Error).message}`, {
        code: 'FG_AUTH',
      });
    }
  }

  private refreshJwks(force: boolean): boolean {
    if (!this.s.jwksFile) return false;
    if (!force && Date.now() - this.jwksCheckedAt < JWKS_RECHECK_MS) return false;
    const next = this.loadJwks(false);
    if (next) this.key = next;
    return next !== undefined;
  }

  /** Verify a token; rejects with an AuthFailure. `sub`: the session's subject, which a refresh must keep. */
  async verify(token: string | undefined, sub?: string): Promise<VerifiedToken> {
    if (!token) throw new AuthFailure('missing');
    this.refreshJwks(false);
    let payload: jose.JWTPayload;
    try {
      payload = await this.check(token);
    } catch (err) {
      // a rotated key may already be in a newer file than the one last read
      if (!(err instanceof jose.errors.JWKSNoMatchingKey) || !this.refreshJwks(true)) {
        throw new AuthFailure(reasonOf(err));
      }
      try {
        payload = await this.check(token);
      } catch (again) {
        throw new AuthFailure(reasonOf(again));
      }
    }
    if (sub !== undefined && payload.sub !== sub) throw new AuthFailure('subject_changed');
    return { expMs: payload.exp! * 1000, ...(payload.sub !== undefined ? { sub: payload.sub } : {}) };
  }

  private async check(token: string): Promise<jose.JWTPayload> {
    const opts: jose.JWTVerifyOptions = {
      algorithms: this.algorithms,
      audience: this.s.audience,
      clockTolerance: Math.floor(this.s.leewayMs / 1000),
      requiredClaims: ['exp'],
      ...(this.s.issuer ? { issuer: this.s.issuer } : {}),
    };
    const key = this.key;
    const r =
      key instanceof Uint8Array
        ? await jose.jwtVerify(token, key, opts)
        : await jose.jwtVerify(token, key, opts);
    return r.payload;
  }
}

/** The verifier the endpoint's options ask for, or undefined when auth is off. The secret comes from
 * FG_AUTH_SECRET (e.g. through God's `secrets:`) or a file, never from argv. */
export function authFromConfig(
  c: {
    authSecretFile?: string;
    authJwks?: string;
    authAudience?: string;
    authIssuer?: string;
    authAlgorithms?: string;
    authLeeway: number;
  },
  env: NodeJS.ProcessEnv,
): TokenVerifier | undefined {
  let secret: string | undefined = env.FG_AUTH_SECRET || undefined;
  if (c.authSecretFile) {
    try {
      secret = fs.readFileSync(c.authSecretFile, 'utf8').trim();
    } catch (err) {
      throw new UserError(`--auth-secret-file: cannot read ${c.authSecretFile}: ${(err as Error).message}`, {
        code: 'FG_AUTH',
      });
    }
    if (!secret) throw new UserError(`--auth-secret-file: ${c.authSecretFile} is empty`, { code: 'FG_AUTH' });
  }
  if (!secret && !c.authJwks) {
    if (c.authAudience || c.authIssuer || c.authAlgorithms) {
      throw new UserError('endpoint: --auth-audience / --auth-issuer / --auth-algorithms without a key', {
        code: 'FG_AUTH',
      });
    }
    return undefined;
  }
  if (secret && c.authJwks) {
    throw new UserError('endpoint: both a shared secret and --auth-jwks are set', { code: 'FG_AUTH' });
  }
  if (secret && Buffer.byteLength(secret) < 32) {
    throw new UserError('endpoint: the auth secret is shorter than 32 bytes (HS256 needs 256 bits)', {
      code: 'FG_AUTH',
    });
  }
  if (!c.authAudience) {
    throw new UserError('endpoint: signed connections need --auth-audience (the `aud` tokens must carry)', {
      code: 'FG_AUTH',
    });
  }
  const algorithms = c.authAlgorithms
    ?.split(',')
    .map((a) => a.trim())
    .filter(Boolean);
  return new TokenVerifier({
    ...(secret ? { secret: new TextEncoder().encode(secret) } : { jwksFile: c.authJwks }),
    audience: c.authAudience,
    ...(c.authIssuer ? { issuer: c.authIssuer } : {}),
    ...(algorithms?.length ? { algorithms } : {}),
    leewayMs: c.authLeeway,
  });
}
