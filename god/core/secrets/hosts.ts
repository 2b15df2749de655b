// Resolved secrets onto the processes of deploy hosts: each process gets the secrets of its role as
// `secretEnv`, which the deploy writes only into the host's run/<id>.secrets.env (deploy/host-ops.ts specFor).
import type { DeployHost } from '../deploy/types.ts';
import { type ResolvedSecret, secretEnvOf } from './resolve.ts';

export function attachSecrets(hosts: DeployHost[], secrets: ResolvedSecret[]): DeployHost[] {
  if (secrets.length === 0) return hosts;
  return hosts.map((h) => ({
    ...h,
    processes: h.processes.map((p) => {
      const secretEnv = secretEnvOf(secrets, p.role);
      return secretEnv ? { ...p, secretEnv } : p;
    }),
  }));
}
