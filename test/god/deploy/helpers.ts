// Shared set-up of the deploy tests: deploy hosts over the harness's loopback sshd hosts.
import path from 'node:path';
import type { Redis } from 'ioredis';
import type { DeployHost } from '../../../god/core/deploy/types.ts';
import { freePort, type SshFleet, type SshHost } from '../../harness/index.ts';

export const PREFIX = 'dt:';

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

/** Each host gets its own base_dir, FG_ID and endpoint port so the processes (all on this machine) do not collide. */
export async function deployHosts(fleet: SshFleet, redisUrl: string): Promise<DeployHost[]> {
  return Promise.all(
    fleet.hosts.map(async (h) => {
      const port = await freePort(h.address);
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
