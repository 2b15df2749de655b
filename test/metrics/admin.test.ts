// The admin listener on its own: the refusal to serve off loopback without a token (the binary's exit and
// message), the token when one is set, and hostile HTTP (bad paths and methods, huge headers, garbage,
// slowloris) that must neither crash nor stall it.
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { UserError } from '../../kernel/errors.ts';
import { endpointRole } from '../../roles/endpoint/role.ts';
import { AdminServer, isLoopback, parseAdminListen } from '../../roles/runtime/admin.ts';
import { RoleMetrics } from '../../roles/runtime/metrics.ts';
import { startRole } from '../../roles/runtime/role.ts';
import { recentOutput, spawnTracked, waitForExit } from '../harness/index.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
let server: AdminServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(token?: string, host = '127.0.0.1'): Promise<string> {
  const metrics = new RoleMetrics('endpoint', { nodeDefaults: false });
  metrics.source('filmgrain_endpoint_clients', () => 7);
  server = new AdminServer({
    listen: { host, port: 0 },
    token,
    metrics,
    headersTimeoutMs: 600,
    ready: () => ({ redis: { ok: false, why: 'redis connection is reconnecting' } }),
  });
  const a = await server.start();
  return `http://127.0.0.1:${a.port}`;
}

/** Raw bytes to the listener; what came back before it closed (or `timeoutMs` passed). */
function raw(
  url: string,
  chunks: string[],
  gapMs = 0,
  timeoutMs = 5000,
): Promise<{ text: string; closedMs: number }> {
  const { port } = new URL(url);
  return new Promise((resolve) => {
    const t0 = Date.now();
    const s = net.connect(Number(port), '127.0.0.1');
    let text = '';
    s.on('data', (d) => (text += d.toString()));
    s.on('error', () => {});
    const done = () => resolve({ text, closedMs: Date.now() - t0 });
    s.on('close', done);
    setTimeout(() => s.destroy(), timeoutMs).unref();
    let i = 0;
    const next = () => {
      if (i >= chunks.length || s.destroyed) return;
      s.write(chunks[i++]!);
      setTimeout(next, gapMs);
    };
    s.on('connect', next);
  });
}

describe('admin listener', () => {
  it('refuses to start off loopback without a token, with a clear error (the binary exits 2)', async () => {
    await expect(
      startRole(endpointRole, ['--admin-listen', '0.0.0.0:0', '--redis', 'redis://127.0.0.1:1'], { env: {} }),
    ).rejects.toMatchObject({ code: 'FG_ADMIN_TOKEN' });
    const child = spawnTracked(
      process.execPath,
      [path.join(ROOT, 'bin/endpoint.mjs'), '--admin-listen', '0.0.0.0:9', '--redis', 'redis://127.0.0.1:1'],
      { cwd: ROOT, name: 'admin-refused', env: { ...process.env, FG_ADMIN_TOKEN: '' } },
    );
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    expect(await waitForExit(child, 20_000)).toBe(true);
    expect(await exited).toBe(2);
    const out = recentOutput(child, 50).join('\n');
    expect(out).toMatch(/not a loopback address and no admin token/);
    expect(out).toMatch(/FG_ADMIN_TOKEN|--admin-token-file/);
    expect(() => parseAdminListen('nonsense')).toThrow(UserError);
    expect(parseAdminListen('[::1]:9100')).toEqual({ host: '::1', port: 9100 });
    expect([
      isLoopback('127.0.0.2'),
      isLoopback('::1'),
      isLoopback('10.0.0.1'),
      isLoopback('0.0.0.0'),
    ]).toEqual([true, true, false, false]);
  }, 30_000);

  it('with a token, answers only requests that carry it', async () => {
    const url = await start('s3cret-token', '0.0.0.0');
    expect((await fetch(`${url}/metrics`)).status).toBe(401);
    expect(
      (await fetch(`${url}/metrics`, { headers: { authorization: 'Bearer wrong-token!' } })).status,
    ).toBe(401);
    const ok = await fetch(`${url}/metrics`, { headers: { authorization: 'Bearer s3cret-token' } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toMatch(/^filmgrain_endpoint_clients 7$/m);
  });

  it('says why it is not ready, and survives hostile requests without stalling', async () => {
    const url = await start();
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({
      ready: false,
      why: ['redis: redis connection is reconnecting'],
    });
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    expect((await fetch(`${url}/../../etc/passwd`)).status).toBe(404);
    expect((await fetch(`${url}/metrics`, { method: 'POST', body: 'x'.repeat(100_000) })).status).toBe(405);
    const huge = await raw(url, [
      `GET /metrics HTTP/1.1\r\nhost: x\r\nx-big: ${'a'.repeat(64 * 1024)}\r\n\r\n`,
    ]);
    expect(huge.text).toMatch(/^HTTP\/1.1 431/);
    const garbage = await raw(url, ['\x00\x01\x02 not http at all\r\n\r\n']);
    expect(garbage.text).toMatch(/^HTTP\/1.1 400/);
    // slowloris: a header byte every 100 ms is cut after the headers timeout, and meanwhile others are served
    const slow = raw(
      url,
      ['GET /metrics HTTP/1.1\r\n', ...Array.from({ length: 100 }, () => 'x')],
      100,
      10_000,
    );
    const t0 = Date.now();
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    expect(Date.now() - t0).toBeLessThan(2000);
    const cut = await slow;
    expect(cut.closedMs).toBeLessThan(5000);
    expect((await fetch(`${url}/metrics`)).status).toBe(200);
  }, 30_000);
});
