// God holds the fleet's admin token: a role whose admin listener wants a token (FG_ADMIN_TOKEN) is read by
// `god status` and by up's health wait with the token God resolves from the config's `secrets:` (the secret
// the roles get as FG_ADMIN_TOKEN); a wrong or missing token is said in status, and the heartbeat decides.
// One real endpoint on a private redis-server for the whole file.
import { Redis } from 'ioredis';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../god/core/config/load.ts';
import type { Provider } from '../../god/core/providers/types.ts';
import { adminTokenOf } from '../../god/core/secrets/admin-token.ts';
import { getStatus, waitHealthy } from '../../god/core/status.ts';
import { readHeartbeats } from '../../protocol/heartbeats.ts';
import { redisContract } from '../../protocol/redis-contract.ts';
import { type RedisServer, spawnRole, startRedis, waitFor } from '../harness/index.ts';

const PREFIX = 'tk:';
const keys = redisContract(PREFIX);
const TOKEN = 'tok-9f1c2b7e4d';
const EXPECTED = [{ role: 'endpoint' as const, id: 'endpoint-t', host: 'h' }];
const provider = {
  kind: 'ssh',
  machines: async () => [],
  expected: async () => EXPECTED,
} as unknown as Provider;

describe('the admin token God holds', () => {
  let redis: RedisServer;
  let client: Redis;
  let child: ChildProcess;
  const fr = () => ({ url: redis.url, redis: client, keys, duplicate: () => client, close: () => {} });
  const config = parseConfigText(
    'provider: ssh\nssh: {hosts: [{name: h, address: 127.0.0.1, roles: [endpoint]}]}\nredis: {url: "redis://127.0.0.1:1", prefix: "tk:"}\nsecrets:\n  admin_token: {env: FG_ADMIN_TOKEN}\n',
    'god.config.yaml',
  );
  const tokenFrom = (env: NodeJS.ProcessEnv) =>
    adminTokenOf({ config, baseDir: fs.mkdtempSync('/tmp/h17c-cfg-'), env });

  beforeAll(async () => {
    redis = await startRedis();
    client = new Redis(redis.url, { maxRetriesPerRequest: null });
    // the token reaches the role in its environment (as run/<id>.secrets.env does), never in argv
    child = spawnRole('endpoint', {
      redisUrl: redis.url,
      prefix: PREFIX,
      id: 'endpoint-t',
      args: ['--port', '0', '--host', '127.0.0.1'],
      env: { FG_ADMIN_LISTEN: '127.0.0.1:0', FG_ADMIN_TOKEN: TOKEN },
    });
    await waitFor(
      async () => (await readHeartbeats(client, keys)).some((h) => h.admin),
      30_000,
      'a heartbeat',
    );
  }, 60_000);

  afterAll(async () => {
    client?.disconnect();
    await redis?.stop();
  });

  it('god status reads a token-protected /readyz with the secret; a wrong or missing token is said', async () => {
    expect(child.spawnargs.join(' ')).not.toContain(TOKEN);
    const token = await tokenFrom({ GOD_SECRET_ADMIN_TOKEN: TOKEN });
    expect(token).toEqual({ token: TOKEN });
    const st = await getStatus({ provider, redis: fr(), adminToken: token });
    const p = st.processes[0]!;
    expect(p.admin).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(p.ready).toEqual({ ready: true, why: [] });
    expect(p.ready_error).toBeNull();
    expect(JSON.stringify(st)).not.toContain(TOKEN);

    const wrong = await getStatus({ provider, redis: fr(), adminToken: { token: 'not-it' } });
    expect(wrong.processes[0]!.ready).toBeNull();
    expect(wrong.processes[0]!.ready_error).toMatch(/admin token was refused \(HTTP 401\)/);
    expect(wrong.ok).toBe(true); // the heartbeat decides: up

    // no value for the secret: status still runs, and says why it has no token
    const missing = await tokenFrom({});
    expect(missing.token).toBeUndefined();
    const none = await getStatus({ provider, redis: fr(), adminToken: missing });
    expect(none.processes[0]!.ready_error).toMatch(/God has none.*secret admin_token.*no value/);
  }, 30_000);

  it("up's health wait reads /readyz with the token (a draining endpoint is not healthy), heartbeats the fallback", async () => {
    await client.publish(keys.control('endpoint', 'endpoint-t'), JSON.stringify({ cmd: 'drain' }));
    await waitFor(
      async () =>
        (await getStatus({ provider, redis: fr(), adminToken: { token: TOKEN } })).summary.not_ready === 1,
      10_000,
      'the draining endpoint not ready',
    );
    // both at once (each needs three fresh beats, ~5 s): with the token the drain is seen; with a token the
    // listener refuses, /readyz cannot be read and the heartbeat alone decides
    const [withToken, refused] = await Promise.allSettled([
      waitHealthy(fr(), EXPECTED, { timeoutMs: 8000, adminToken: TOKEN }),
      waitHealthy(fr(), EXPECTED, { timeoutMs: 8000, adminToken: 'not-it' }),
    ]);
    expect(withToken.status).toBe('rejected');
    expect(String((withToken as PromiseRejectedResult).reason)).toMatch(
      /endpoint-t \(not ready \(\/readyz at 127\.0\.0\.1:\d+\): .*draining/,
    );
    expect(refused.status).toBe('fulfilled');
    expect(
      (refused as PromiseFulfilledResult<Awaited<ReturnType<typeof waitHealthy>>>).value.processes[0]!.state,
    ).toBe('up');
  }, 30_000);
});
