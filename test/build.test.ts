// `npm run build` makes role bundles that run with plain node, with no node_modules anywhere near them.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HeartbeatSchema, redisContract } from '../protocol/redis-contract.ts';
import {
  cleanupAll,
  makeTempDir,
  type RedisServer,
  spawnTracked,
  startRedis,
  waitFor,
  waitForExit,
} from './harness/index.ts';

const root = path.resolve(import.meta.dirname, '..');
const keys = redisContract('fg:');
const version = `9.9.9-bundle-test-${process.pid}`;
let redis: RedisServer;
let client: Redis;
let hostDir: string;

function hasNodeModulesAbove(dir: string): boolean {
  for (let d = dir; ; d = path.dirname(d)) {
    if (fs.existsSync(path.join(d, 'node_modules'))) return true;
    if (path.dirname(d) === d) return false;
  }
}

beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url);
  const out = makeTempDir('build-out');
  execFileSync(process.execPath, [path.join(root, 'scripts/build.mjs'), '--outdir', out], {
    env: { ...process.env, FG_BUILD_VERSION: version },
    stdio: 'pipe',
  });
  // a "host": only the bundles and a catalog, as God ships them
  hostDir = makeTempDir('bundle-host');
  for (const f of fs.readdirSync(out)) fs.copyFileSync(path.join(out, f), path.join(hostDir, f));
  fs.copyFileSync(path.join(root, 'data/movies.json'), path.join(hostDir, 'movies.json'));
}, 120_000);
afterAll(async () => {
  client?.disconnect();
  await cleanupAll();
});

const roleArgs: Record<string, string[]> = {
  feeder: ['--catalog', 'movies.json', '--source', 'synthetic', '--rate', '50'],
  endpoint: ['--port', '0'],
  keeper: ['--archive', 'file://./archive'],
};

describe('role bundles', () => {
  it('are self-contained files with a manifest', () => {
    expect(hasNodeModulesAbove(hostDir)).toBe(false);
    const manifest = JSON.parse(fs.readFileSync(path.join(hostDir, 'manifest.json'), 'utf8'));
    expect(manifest.version).toBe(version);
    // the roles' runtime: the Node 24 releases carry, 22 still supported (npm run test:pinned-node runs this on 24)
    expect(manifest.engines).toEqual({ node: '>=22' });
    expect(Object.keys(manifest.roles).sort()).toEqual(['endpoint', 'feeder', 'keeper']);
  });

  it.each(Object.keys(roleArgs))('%s runs with plain node and reports the built version', async (role) => {
    const id = `bundle-${role}`;
    const p = spawnTracked(
      process.execPath,
      [`${role}.mjs`, '--redis', redis.url, '--id', id, ...roleArgs[role]!],
      { cwd: hostDir, env: { PATH: process.env.PATH, HOME: hostDir }, name: id },
    );
    await waitFor(
      async () => (await client.exists(keys.heartbeat(role, id))) === 1,
      30_000,
      `${role} heartbeat`,
    );
    const hb = HeartbeatSchema.parse(JSON.parse((await client.get(keys.heartbeat(role, id)))!));
    expect(hb).toMatchObject({ role, id, version, pid: p.pid });
    p.kill('SIGTERM');
    expect(await waitForExit(p, 15_000)).toBe(true);
    expect(p.exitCode).toBe(0);
  });
});
