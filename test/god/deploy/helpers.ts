// Shared set-up of the deploy tests: deploy hosts over the harness's loopback sshd hosts.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { Redis } from 'ioredis';
import { cachedRuntime, RUNTIME_PIN } from '../../../god/core/deploy/runtime.ts';
import type { DeployHost } from '../../../god/core/deploy/types.ts';
import { freePort, type SshFleet, type SshHost } from '../../harness/index.ts';

export const PREFIX = 'dt:';

const ENDPOINT_MAIN = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../roles/endpoint/main.ts',
);

/** Bundle the real roles/endpoint/main.ts like scripts/build.mjs does, into `dir`/endpoint.mjs, at `version`. */
export async function bundleEndpoint(dir: string, version: string): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  await build({
    entryPoints: [ENDPOINT_MAIN],
    outfile: path.join(dir, 'endpoint.mjs'),
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    logLevel: 'warning',
    define: { __FG_VERSION__: JSON.stringify(version) },
    banner: {
      js: `import { createRequire as __fgCreateRequire } from 'node:module';\nconst require = __fgCreateRequire(import.meta.url);\n// ${version}`,
    },
  });
}

/** A harness sshd host as a deploy host running `processes`, with its base_dir under the host's root. */
export function deployHostOf(h: SshHost, processes: DeployHost['processes']): DeployHost {
  return {
    name: h.name,
    address: h.address,
    port: h.port,
    user: h.user,
    baseDir: path.join(h.root, 'fg'),
    processes,
  };
}

/**
 * Give a host the pinned runtime as if an earlier deploy had installed it (runtimes/<name>/bin/node + RUNTIME,
 * linked from God's verified cache): suites about other things skip the 50 MiB upload and unpack per host.
 * runtime.test.ts deploys to bare hosts and checks the install itself.
 */
export async function seedRuntime(baseDir: string): Promise<void> {
  const rt = await cachedRuntime(RUNTIME_PIN, 'x64');
  const dir = path.join(baseDir, 'runtimes', rt.name);
  fs.mkdirSync(path.join(dir, 'bin'), { recursive: true });
  const node = path.join(dir, 'bin', 'node');
  try {
    fs.linkSync(rt.node, node);
  } catch {
    fs.copyFileSync(rt.node, node);
  }
  fs.writeFileSync(path.join(dir, 'RUNTIME'), `${rt.version} ${rt.arch} ${rt.integrity}\n`);
}

/** Each host gets its own base_dir, FG_ID and endpoint port so the processes (all on this machine) do not collide. */
export async function deployHosts(fleet: SshFleet, redisUrl: string): Promise<DeployHost[]> {
  return Promise.all(
    fleet.hosts.map(async (h) => {
      const port = await freePort(h.address);
      await seedRuntime(path.join(h.root, 'fg'));
      const env = { FG_REDIS_URL: redisUrl, FG_PREFIX: PREFIX, FG_HOST: h.name, FG_STOP_TIMEOUT: '3s' };
      return deployHostOf(h, [
        { role: 'feeder', id: `feeder-${h.name}`, env },
        {
          role: 'endpoint',
          id: `endpoint-${h.name}`,
          env: { ...env, FG_FIXTURE_PORT: String(port), FG_FIXTURE_LISTEN: h.address },
          endpoint: { port },
        },
      ]);
    }),
  );
}

/**
 * The `ssh:` block of a god.config.yaml for a harness fleet: the first host runs `firstRoles`, the others
 * `otherRoles`, each under its own root's fg/.
 */
export function sshInventory(
  fleet: SshFleet,
  firstRoles: string[] = ['feeder', 'keeper'],
  otherRoles: string[] = ['keeper'],
) {
  return {
    key: fleet.privateKeyPath,
    known_hosts: fleet.knownHostsPath,
    hosts: fleet.hosts.map((h, i) => ({
      name: h.name,
      address: h.address,
      port: h.port,
      user: h.user,
      roles: i === 0 ? firstRoles : otherRoles,
      base_dir: path.join(h.root, 'fg'),
    })),
  };
}

export function sshOpts(fleet: SshFleet) {
  return { privateKey: fleet.privateKey, knownHostsPath: fleet.knownHostsPath, connectTimeoutMs: 5000 };
}

export async function versionsOf(redis: Redis, hosts: DeployHost[]): Promise<Record<string, string | null>> {
  const out: Record<string, string | null> = {};
  for (const h of hosts) {
    for (const p of h.processes) {
      const v = await redis.get(`${PREFIX}proc:${p.role}:${p.id}`);
      out[p.id] = v ? JSON.parse(v).version : null;
    }
  }
  return out;
}
