// A release carries its Node: deployed to a real loopback sshd host, the role process and its supervisor run
// on the shipped runtime (not this machine's Node); a release pinned to another Node switches it, and a rollback
// switches it back. A corrupted runtime in God's cache is refused naming the file, and a host whose disk cannot
// hold the runtime is refused naming the host and the space needed.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploy } from '../../../god/core/deploy/deploy.ts';
import { rollback } from '../../../god/core/deploy/rollback.ts';
import { loadPin, runtimeCacheDir } from '../../../god/core/deploy/runtime-cache.mjs';
import { cachedRuntime, RUNTIME_PIN } from '../../../god/core/deploy/runtime.ts';
import type { DeployHost } from '../../../god/core/deploy/types.ts';
import { redisContract } from '../../../protocol/redis-contract.ts';
import {
  makeTempDir,
  skipWithout,
  sshAvailable,
  useRedis,
  useSshHosts,
  waitFor,
} from '../../harness/index.ts';
import { buildFixture } from './fixtures/build.ts';
import { deployHostOf, PREFIX, sshOpts } from './helpers.ts';

const keys = redisContract(PREFIX);
const NODE22 = loadPin(
  path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'runtime-22.json'),
);
const x64 = process.arch === 'x64';

/** A small tmpfs for a host's base_dir (we are root in CI); undefined where mounting is not allowed. */
function mountTmpfs(dir: string, size: string): boolean {
  fs.mkdirSync(dir, { recursive: true });
  return spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]).status === 0;
}

describe.skipIf(
  skipWithout({ sshd: sshAvailable() }, 'apt-get install -y openssh-server openssh-client') || !x64,
)('releases carry their runtime', () => {
  const getRedis = useRedis();
  const getFleet = useSshHosts(2);
  let redis: Redis;
  let host: DeployHost;
  let small: DeployHost;
  let smallMounted = false;
  let bundles: string;

  beforeAll(async () => {
    redis = new Redis(getRedis().url);
    const env = { FG_REDIS_URL: getRedis().url, FG_PREFIX: PREFIX, FG_STOP_TIMEOUT: '3s' };
    const [h1, h2] = getFleet().hosts;
    host = deployHostOf(h1!, [{ role: 'feeder', id: 'feeder-rt', env: { ...env, FG_HOST: h1!.name } }]);
    small = deployHostOf(h2!, [{ role: 'feeder', id: 'feeder-small', env: { ...env, FG_HOST: h2!.name } }]);
    smallMounted = mountTmpfs(small.baseDir, '40m');
    bundles = makeTempDir('runtime-bundles');
    await buildFixture(bundles, { version: 'rt' });
    // both runtimes in the cache before the first deploy (a fetch is not what these tests time)
    await Promise.all([cachedRuntime(RUNTIME_PIN, 'x64'), cachedRuntime(NODE22, 'x64')]);
  }, 300_000);
  afterAll(async () => {
    redis?.disconnect();
    if (smallMounted) spawnSync('umount', [small.baseDir]);
  });

  const base = () => ({
    hosts: [host],
    ssh: sshOpts(getFleet()),
    redis,
    keys,
    bundleDir: bundles,
    healthTimeoutMs: 30_000,
    killMs: 5000,
  });

  /** The Node the live role process (from its heartbeat's pid) and its supervisor run on, as they report it. */
  async function runningNode(version: string): Promise<{ role: string; supervisor: string; exe: string }> {
    let hb: { pid: number } | undefined;
    await waitFor(
      async () => {
        const v = await redis.get(keys.heartbeat('feeder', 'feeder-rt'));
        const beat = v ? JSON.parse(v) : undefined;
        if (beat?.version === version) hb = beat;
        return !!hb;
      },
      20_000,
      `feeder-rt beating as ${version}`,
    );
    if (!hb) throw new Error('no heartbeat');
    const exe = fs.readlinkSync(`/proc/${hb.pid}/exe`);
    const ppid = Number(/^PPid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${hb.pid}/status`, 'utf8'))![1]);
    const supExe = fs.readlinkSync(`/proc/${ppid}/exe`);
    const ver = (bin: string) => execFileSync(bin, ['-p', 'process.version'], { encoding: 'utf8' }).trim();
    expect(fs.readFileSync(`/proc/${ppid}/cmdline`, 'utf8')).toContain('fg-supervisor');
    return { role: ver(exe), supervisor: ver(supExe), exe };
  }

  it('the role and its supervisor run on the shipped Node, not the machine’s; a redeploy does not upload it again', async () => {
    const res = await deploy({ ...base(), mode: 'supervisor' });
    expect(res.ok, JSON.stringify(res.hosts)).toBe(true);
    expect(res.hosts[0]).toMatchObject({
      runtime: `node-v${RUNTIME_PIN.version}-linux-x64`,
      runtimeInstalled: true,
    });
    const n = await runningNode(res.version);
    expect(n).toMatchObject({ role: `v${RUNTIME_PIN.version}`, supervisor: `v${RUNTIME_PIN.version}` });
    expect(n.role).not.toBe(process.version);
    expect(n.exe).toBe(
      path.join(host.baseDir, 'runtimes', `node-v${RUNTIME_PIN.version}-linux-x64`, 'bin', 'node'),
    );

    // same bundles with the other runtime: a new release, the runtime installed once, the bundles reused
    const r22 = await deploy({ ...base(), mode: 'supervisor', runtime: NODE22 });
    expect(r22.ok, JSON.stringify(r22.hosts)).toBe(true);
    expect(r22.version).not.toBe(res.version);
    expect(r22.hosts[0]).toMatchObject({ runtimeInstalled: true, uploaded: [] });
    expect((await runningNode(r22.version)).role).toBe(`v${NODE22.version}`);

    const again = await deploy({ ...base(), mode: 'supervisor', runtime: NODE22 });
    expect(again.hosts[0]).toMatchObject({ status: 'unchanged', uploaded: [] });
    expect(again.hosts[0]!.runtimeInstalled).toBeUndefined();
  }, 180_000);

  it('a rollback switches the runtime with the code', async () => {
    const rb = await rollback({ ...base(), mode: 'supervisor' });
    expect(rb.ok, JSON.stringify(rb.hosts)).toBe(true);
    const back = rb.hosts[0]!.current!;
    expect((await runningNode(back)).role).toBe(`v${RUNTIME_PIN.version}`);
    // both runtimes stay while releases link to them
    expect(fs.readdirSync(path.join(host.baseDir, 'runtimes')).sort()).toEqual([
      `node-v${NODE22.version}-linux-x64`,
      `node-v${RUNTIME_PIN.version}-linux-x64`,
    ]);
  }, 120_000);

  it('a corrupted runtime in the cache is refused, naming the file and what to do', async () => {
    const good = await cachedRuntime(RUNTIME_PIN, 'x64');
    const dir = makeTempDir('runtime-cache');
    const cache = path.join(dir, 'runtimes');
    fs.mkdirSync(cache);
    fs.copyFileSync(good.tgz, path.join(cache, path.basename(good.tgz)));
    fs.cpSync(path.dirname(path.dirname(good.node)), path.join(cache, good.name), { recursive: true });
    const nodeCopy = path.join(cache, good.name, 'bin', 'node');
    // a clean copy is accepted
    await expect(cachedRuntime(RUNTIME_PIN, 'x64', { dir: cache })).resolves.toMatchObject({
      node: nodeCopy,
    });

    // one byte of the unpacked binary flipped
    const fd = fs.openSync(nodeCopy, 'r+');
    fs.writeSync(fd, Buffer.from([0x42]), 0, 1, 4096);
    fs.closeSync(fd);
    await expect(cachedRuntime(RUNTIME_PIN, 'x64', { dir: cache })).rejects.toMatchObject({
      name: 'UserError',
      code: 'GOD_RUNTIME_CORRUPT',
      message: expect.stringContaining(path.join(cache, good.name)),
      hint: expect.stringMatching(/^Delete it \(rm -rf .*\) and run again/),
    });

    // a truncated tarball, through a deploy: the host is not touched
    fs.truncateSync(path.join(cache, path.basename(good.tgz)), 1000);
    const prev = process.env.GOD_CACHE_DIR;
    process.env.GOD_CACHE_DIR = dir;
    try {
      expect(runtimeCacheDir()).toBe(cache);
      const fresh = { ...host, name: 'fresh', baseDir: path.join(path.dirname(host.baseDir), 'fresh') };
      const res = await deploy({ ...base(), hosts: [fresh], mode: 'supervisor' });
      expect(res.hosts[0]).toMatchObject({ ok: false, status: 'failed', code: 'GOD_RUNTIME_CORRUPT' });
      expect(res.hosts[0]!.error).toContain(`${path.join(cache, path.basename(good.tgz))} is corrupt`);
      expect(fs.readdirSync(path.join(fresh.baseDir, 'runtimes'))).toEqual([]);
    } finally {
      if (prev === undefined) delete process.env.GOD_CACHE_DIR;
      else process.env.GOD_CACHE_DIR = prev;
    }
  }, 120_000);

  it('a host without the disk space for the runtime is refused, naming the host and the space needed', async (ctx) => {
    if (!smallMounted) ctx.skip();
    const res = await deploy({ ...base(), hosts: [small], mode: 'supervisor' });
    expect(res.ok).toBe(false);
    expect(res.hosts[0]).toMatchObject({ status: 'failed', code: 'GOD_DEPLOY_DISK' });
    const err = res.hosts[0]!.error!;
    expect(err).toContain(`not enough disk space on ${small.name}`);
    expect(err).toMatch(
      /the runtime node-v[\d.]+-linux-x64 needs 1\d\d(\.\d)? MiB .* but .* has 40(\.0)? MiB free/,
    );
    // refused before any upload
    expect(fs.readdirSync(path.join(small.baseDir, 'runtimes'))).toEqual([]);
  }, 60_000);
});
