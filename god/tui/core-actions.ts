// The dashboard's keys wired to God's services: the same operations the CLI commands run.
import type { Role } from '../../protocol/redis-contract.ts';
import type { GodConfig } from '../core/config/schema.ts';
import { shedEndpoint } from '../core/endpoints.ts';
import type { EventSink } from '../core/events.ts';
import { type DownFlags, downFlags, drainOptions } from '../core/drain.ts';
import { downOp, planOp, restartOp, upOp } from '../core/operations.ts';
import { describeChange } from '../core/providers/types.ts';
import type { Provider, RemoteProvider } from '../core/providers/types.ts';
import { interactiveShell } from '../core/shell.ts';
import { SshPool } from '../core/ssh/pool.ts';
import type { FleetRedis } from '../core/redis.ts';
import { MovieWatch } from '../core/watch.ts';
import type { EndpointAddress } from '../../protocol/client/index.ts';
import type { DashboardActions } from './actions.ts';

export function coreActions(o: {
  provider: Provider;
  config: GodConfig;
  fleetRedis: FleetRedis;
  events: EventSink;
  /** deploy the current build, when the fleet can be deployed to (ssh, ec2) */
  deploy?: () => Promise<{ ok: boolean; error?: string }>;
  /** a shell on a process's host, when the hosts are reached over SSH (shellAction) */
  shell?: DashboardActions['shell'];
  /** `god down`'s options (drain.ts; the dashboard reads them from GOD_* env vars); force comes from the key */
  down?: DownFlags;
  /** Enter on a movie (watchAction) */
  watch?: DashboardActions['watch'];
}): Omit<DashboardActions, 'quit'> {
  const { provider, config, fleetRedis, events } = o;
  const flags = o.down ?? downFlags();
  return {
    async up(role) {
      const now = (await provider.expected()).filter((p) => p.role === role).length;
      await upOp({ provider, config, role: role as Role, count: now + 1, events });
    },
    down: (row, how) =>
      downOp({
        provider,
        ids: [row.id],
        events,
        drain: drainOptions(
          { ...flags, force: how.force },
          { redis: async () => fleetRedis, confirmLast: how.confirmLast },
        ),
      }),
    restart: (row) => restartOp({ provider, ids: [row.id], events }),
    shed: (row, n) => shedEndpoint(fleetRedis, row.id, n, events),
    deploy: o.deploy,
    shell: o.shell,
    watch: o.watch,
    // the provider's own plan, the same one `god up|down|restart --dry-run` prints
    async plan(op, row) {
      const r =
        op === 'up'
          ? await planOp({
              provider,
              config,
              action: 'up',
              role: row.role as Role,
              count: (await provider.expected()).filter((p) => p.role === row.role).length + 1,
            })
          : await planOp({ provider, config, action: op, ids: [row.id] });
      return r.changes.map(describeChange);
    },
  };
}

/** `!` on a process of an ssh/ec2 fleet: `god ssh` to its host on this terminal (god/core/shell.ts). */
export function shellAction(provider: RemoteProvider): NonNullable<DashboardActions['shell']> {
  return async (row) => {
    const host = (await provider.deployHosts()).find((h) => h.name === row.host);
    if (!host) throw new Error(`${row.host} is not a host of the inventory`);
    const pool = new SshPool(provider.sshOptions());
    try {
      const conn = await pool.get(host);
      process.stdout.write(`god: shell on ${host.name}; exit it to go back to the dashboard\r\n`);
      return await interactiveShell(conn, { stdin: process.stdin, stdout: process.stdout });
    } finally {
      await pool.closeAll();
    }
  };
}

/**
 * Enter on a movie: God as a client of the fleet (god/core/watch.ts) on that movie's feed, through the
 * endpoints `source` names (the keeper's endpoints.json, found when the watch starts).
 */
export function watchAction(
  source: () => Promise<string | EndpointAddress[]>,
): NonNullable<DashboardActions['watch']> {
  return (movie, onEvent) => {
    let watch: MovieWatch | undefined;
    let closed = false;
    const started = source().then((src) => {
      if (closed) return movie;
      watch = new MovieWatch({ source: src, movie, onEvent });
      return watch.start();
    });
    return {
      started,
      close() {
        closed = true;
        watch?.close();
      },
    };
  };
}
