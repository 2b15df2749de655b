// Signed connections against real endpoints (HS256 secret from FG_AUTH_SECRET; a JWKS file rotated in place)
// and a real redis-server: good, expired, not-yet-valid, wrong audience, wrong signature, alg none, missing;
// a rotated key; a refresh mid-session (raw and by the SDK); a session whose token expires unrefreshed; and
// no token in the endpoint's logs.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as jose from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FilmgrainClient } from '../../protocol/client/index.ts';
import { type RedisServer, startRedis } from '../harness/index.ts';
import {
  freshPrefix,
  LineClient,
  MOVIES,
  Publisher,
  type StartedEndpoint,
  startEndpoint,
} from './helpers.ts';

const SECRET = 'an-hs256-secret-of-at-least-32-bytes!!';
const AUD = 'filmgrain-test';
const key = new TextEncoder().encode(SECRET);
const now = () => Math.floor(Date.now() / 1000);

let redis: RedisServer;
let pub: Publisher;
let hs: StartedEndpoint;
let jw: StartedEndpoint;
let dir: string;
let jwksFile: string;
const clients: LineClient[] = [];
const sdks: FilmgrainClient[] = [];
const issued: string[] = [];
const keys: Record<string, jose.GenerateKeyPairResult> = {};

type Claims = { exp?: number; nbf?: number; aud?: string; sub?: string };
async function hsToken(c: Claims = {}, secret = key): Promise<string> {
  const j = new jose.SignJWT({ sub: c.sub ?? 'viewer-1' })
    .setProtectedHeader({ alg: 'HS256' })
    .setAudience(c.aud ?? AUD)
    .setExpirationTime(c.exp ?? now() + 60);
  if (c.nbf !== undefined) j.setNotBefore(c.nbf);
  const t = await j.sign(secret);
  issued.push(t);
  return t;
}
async function esToken(kid: string, c: Claims = {}): Promise<string> {
  const t = await new jose.SignJWT({ sub: 'viewer-2' })
    .setProtectedHeader({ alg: 'ES256', kid })
    .setAudience(c.aud ?? AUD)
    .setExpirationTime(c.exp ?? now() + 60)
    .sign(keys[kid]!.privateKey);
  issued.push(t);
  return t;
}
async function writeJwks(...kids: string[]): Promise<void> {
  const set = {
    keys: await Promise.all(
      kids.map(async (k) => ({ ...(await jose.exportJWK(keys[k]!.publicKey)), kid: k, alg: 'ES256' })),
    ),
  };
  // a new file put in place (as a deploy would), not rewritten under a reader
  const tmp = `${jwksFile}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(set), { mode: 0o600 });
  fs.renameSync(tmp, jwksFile);
}

const hello = (token?: string, protocol = '1.1') => ({
  action: 'connect',
  params: { client: { app: 'test', version: '2.0' }, protocol, ...(token !== undefined ? { token } : {}) },
});
async function open(ep: StartedEndpoint, token?: string): Promise<LineClient> {
  const c = await LineClient.connect(ep.port);
  clients.push(c);
  c.send(hello(token));
  return c;
}
/** Connect with `token` and expect the connection refused with `code`, its message matching `text`. */
async function refused(ep: StartedEndpoint, token: string | undefined, code: string, text: RegExp) {
  const c = await open(ep, token);
  const e = await c.error(code);
  expect(e.params.message).toMatch(text);
  await c.waitClosed();
  expect(c.messages.some((m) => m.action === 'set_movies' || m.action === 'connected')).toBe(false);
}

beforeAll(async () => {
  redis = await startRedis();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fg-auth-'));
  jwksFile = path.join(dir, 'jwks.json');
  for (const k of ['k1', 'k2']) keys[k] = await jose.generateKeyPair('ES256');
  await writeJwks('k1');
  const prefix = freshPrefix('auth');
  pub = new Publisher(redis.url, prefix);
  await pub.catalog(MOVIES);
  const common = ['--auth-audience', AUD, '--auth-leeway', '0s', '--log-level', 'debug'];
  [hs, jw] = await Promise.all([
    startEndpoint(redis.url, prefix, common, { FG_AUTH_SECRET: SECRET }),
    startEndpoint(redis.url, prefix, [...common, '--auth-jwks', jwksFile]),
  ]);
});

afterAll(async () => {
  for (const c of clients) c.close();
  for (const s of sdks) s.close();
  await Promise.all([hs?.stop(), jw?.stop()]);
  await pub?.close();
  await redis?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('connect with a token', () => {
  it('a good token gets the session (1.1 and 1.0)', async () => {
    const c = await open(hs, await hsToken());
    expect((await c.next('connected')).params.protocol).toBe('1.1');
    await c.next('set_movies');
    const c10 = await LineClient.connect(hs.port);
    clients.push(c10);
    c10.send({ action: 'connect', params: { client: { app: 'old', version: '1' }, token: await hsToken() } });
    await c10.next('set_movies');
  });

  it('missing, expired, not yet valid, wrong audience, wrong signature, alg none: refused and closed', async () => {
    const body = Buffer.from(JSON.stringify({ sub: 'x', aud: AUD, exp: now() + 60 })).toString('base64url');
    const none = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${body}.`;
    issued.push(none);
    await Promise.all([
      refused(hs, undefined, 'auth_required', /requires a token/),
      refused(hs, await hsToken({ exp: now() - 10 }), 'auth_invalid', /expired/),
      refused(hs, await hsToken({ nbf: now() + 60 }), 'auth_invalid', /not valid yet/),
      refused(hs, await hsToken({ aud: 'another-app' }), 'auth_invalid', /audience/),
      refused(hs, await hsToken({}, new TextEncoder().encode('x'.repeat(40))), 'auth_invalid', /signature/),
      refused(hs, none, 'auth_invalid', /not a valid JWT|algorithm/),
      refused(hs, 'not.a.jwt', 'auth_invalid', /not a valid JWT/),
      // an ES256 token at the HS256 endpoint: not an allowed algorithm
      refused(hs, await esToken('k1'), 'auth_invalid', /algorithm/),
    ]);
  });

  it('a JWKS rotated in place: the new key is taken without a restart, the removed one refused', async () => {
    const c1 = await open(jw, await esToken('k1'));
    await c1.next('set_movies');
    await refused(jw, await esToken('k2'), 'auth_invalid', /key this endpoint does not know/);
    await writeJwks('k2');
    const c2 = await open(jw, await esToken('k2'));
    await c2.next('set_movies');
    await refused(jw, await esToken('k1'), 'auth_invalid', /key this endpoint does not know|signature/);
    await writeJwks('k1', 'k2');
  });
});

describe('sessions', () => {
  it('refresh_token mid-session keeps the connection past the first exp; without it the session is closed', async () => {
    const exp = now() + 2;
    const kept = await open(hs, await hsToken({ exp }));
    const lapsed = await open(hs, await hsToken({ exp }));
    await Promise.all([kept.next('set_movies'), lapsed.next('set_movies')]);
    // a refresh for another subject is refused (and closes): a session keeps its subject
    const other = await open(hs, await hsToken({ exp: now() + 60 }));
    await other.next('set_movies');
    other.send({ action: 'refresh_token', params: { token: await hsToken({ sub: 'someone-else' }) } });
    expect((await other.error('auth_invalid')).params.message).toMatch(/another subject/);

    kept.send({ action: 'refresh_token', params: { token: await hsToken({ exp: now() + 60 }) } });
    const r = await kept.next('token_refreshed');
    expect(Date.parse(r.params.expires_at!) / 1000).toBeGreaterThan(exp + 30);

    // the SDK refreshes by itself: a provider of 3 s tokens, one connection all along
    let provided = 0;
    let firstExp = 0;
    const sdk = new FilmgrainClient({
      endpoints: [{ host: '127.0.0.1', port: hs.port, tls: false }],
      app: 'sdk',
      version: '1',
      token: () => {
        provided++;
        const exp = now() + 3;
        firstExp ||= exp;
        return hsToken({ exp });
      },
    });
    sdks.push(sdk);
    const refreshed: unknown[] = [];
    sdk.on('token_refreshed', (p) => refreshed.push(p));
    await sdk.start();

    const e = await lapsed.error('auth_expired', 0, 4000);
    expect(e.params.message).toMatch(/refresh_token/);
    await lapsed.waitClosed();
    kept.send({ action: 'ping', params: { id: 7 } });
    await kept.next('pong');
    expect(kept.closed).toBe(false);

    // past the SDK's first token's exp and one sweep of the endpoint (1 s)
    await new Promise((r) => setTimeout(r, Math.max(0, firstExp * 1000 + 1300 - Date.now())));
    expect(sdk.ready).toBe(true);
    expect(sdk.connects).toBe(1);
    expect(refreshed.length).toBeGreaterThanOrEqual(1);
    expect(provided).toBeGreaterThanOrEqual(2);
  });

  it('no token, good or bad, is in the endpoints logs; the refusals are logged by reason', () => {
    const logs = [...hs.logs, ...jw.logs].join('');
    expect(logs).toMatch(/token refused/);
    expect(logs).toMatch(/"reason":"expired"/);
    expect(issued.length).toBeGreaterThan(10);
    for (const t of issued) {
      expect(logs.includes(t)).toBe(false);
      // nor its signature or payload on their own
      for (const part of t.split('.').slice(1)) if (part.length > 8) expect(logs.includes(part)).toBe(false);
    }
  });
});

describe('configuration', () => {
  it('auth without an audience, a short secret, "none" allowed, or secret and JWKS together: refused at start', async () => {
    const start = (args: string[], env: NodeJS.ProcessEnv = {}) =>
      startEndpoint(redis.url, freshPrefix('auth-bad'), args, env);
    await expect(start([], { FG_AUTH_SECRET: SECRET })).rejects.toThrow(/--auth-audience/);
    await expect(start(['--auth-audience', AUD], { FG_AUTH_SECRET: 'short' })).rejects.toThrow(/32 bytes/);
    await expect(
      start(['--auth-audience', AUD, '--auth-algorithms', 'HS256,none'], { FG_AUTH_SECRET: SECRET }),
    ).rejects.toThrow(/none/);
    await expect(
      start(['--auth-audience', AUD, '--auth-jwks', jwksFile], { FG_AUTH_SECRET: SECRET }),
    ).rejects.toThrow(/both/);
  });
});
