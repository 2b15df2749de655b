// Production Redis needs no code change: passwords and TLS come from the URL (and a CA flag).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { connectRedis, redactUrl } from '../../roles/runtime/redis.ts';
import { cleanupAll, makeSelfSignedCert, startRedis, waitFor } from '../harness/index.ts';

afterAll(async () => {
  await cleanupAll();
});

async function statusAfter(url: string, extra: Parameters<typeof connectRedis>[1]) {
  const r = connectRedis(url, extra);
  try {
    await waitFor(() => r.status === 'ready', 3000, 'ready').catch(() => {});
    if (r.status !== 'ready') return { ready: false, pong: undefined };
    return { ready: true, pong: await r.ping() };
  } finally {
    r.disconnect();
  }
}

describe('Redis URLs', () => {
  it('authenticates with the password of the URL, and fails without it', async () => {
    const server = await startRedis({ password: 'pa55-word' });
    expect(server.url).toContain(':pa55-word@');
    expect(await statusAfter(server.url, { name: 't' })).toEqual({ ready: true, pong: 'PONG' });
    const noPw = server.url.replace(':pa55-word@', '');
    expect((await statusAfter(noPw, { name: 't' })).ready).toBe(false);
    expect(redactUrl(server.url)).not.toContain('pa55-word');
  });

  it('speaks TLS with rediss:// and verifies the certificate against the given CA', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fg-tls-'));
    const cert = makeSelfSignedCert(dir);
    const server = await startRedis({ tls: { cert: cert.cert, key: cert.key, ca: cert.cert } });
    expect(server.url.startsWith('rediss://')).toBe(true);
    expect(await statusAfter(server.url, { name: 't', tlsCa: cert.cert })).toEqual({
      ready: true,
      pong: 'PONG',
    });
    // an unknown self-signed certificate is refused unless verification is turned off on purpose
    expect((await statusAfter(server.url, { name: 't' })).ready).toBe(false);
    expect((await statusAfter(server.url, { name: 't', tlsInsecure: true })).ready).toBe(true);
    // plain redis:// against a TLS port does not get through
    expect((await statusAfter(server.url.replace('rediss://', 'redis://'), { name: 't' })).ready).toBe(false);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
