// The endpoint role definition: options, start, stop, gauges, control messages.
import { HEARTBEAT_INTERVAL_MS } from '../../protocol/redis-contract.ts';
import type { RoleDefinition, RoleInstance } from '../runtime/role.ts';
import { authFromConfig } from './auth.ts';
import { endpointOptions } from './options.ts';
import { endpointReady, wireEndpointMetrics } from './metrics.ts';
import { EndpointServer } from './server.ts';

export interface EndpointInstance extends RoleInstance {
  server: EndpointServer;
  port: number;
}

export const endpointRole: RoleDefinition<typeof endpointOptions> = {
  role: 'endpoint',
  description: 'Serves protocol 1.0/1.1 to mobile clients over TCP/TLS: rankings and live tweets from Redis',
  options: endpointOptions,
  async main(ctx): Promise<EndpointInstance> {
    const c = ctx.config;
    // a bad auth setting refuses to start, before the port opens
    const auth = authFromConfig(c, ctx.env);
    const server = new EndpointServer(
      {
        id: ctx.id,
        host: c.host,
        port: c.port,
        publicHost: c.publicHost,
        hostName: c.hostName,
        tlsCert: c.tlsCert,
        tlsKey: c.tlsKey,
        maxClients: c.maxClients,
        softLimit: c.softLimit,
        syncMs: c.sync,
        idleTimeoutMs: c.idleTimeout,
        connectTimeoutMs: c.connectTimeout,
        maxPerIp: c.maxPerIp,
        rate: c.rateLimit,
        burst: c.rateBurst,
        maxQueue: c.maxQueue,
        drainGraceMs: c.drainGrace,
        registryIntervalMs: HEARTBEAT_INTERVAL_MS,
        unlisted: c.unlisted,
        version: ctx.version,
        moviesShown: c.moviesShown,
      },
      {
        redis: ctx.redis,
        // client requests must not wait in an unbounded queue while Redis is down: they fail at once
        requests: ctx.connect('requests', { offlineQueue: false }),
        subscriber: ctx.subscriber(),
        keys: ctx.keys,
        log: ctx.log,
        auth,
      },
    );
    await server.start();
    const unwire = ctx.metrics ? wireEndpointMetrics(ctx.metrics, server, ctx.subscriber()) : () => {};
    ctx.log.info(
      {
        port: server.port,
        listen_host: c.host,
        public_host: server.record().host,
        tls: server.tls,
        max_clients: c.maxClients,
        soft_limit: server.softLimit,
        auth: auth ? auth.algorithms.join(',') : 'off',
      },
      'listening',
    );
    // returned promises: the runtime logs a failure as a warning
    ctx.onControl((msg) => {
      if (msg.cmd === 'shed') return server.shed(msg.clients, msg.reason ?? 'shed');
      if (msg.cmd === 'drain') return server.drain();
    });
    return {
      server,
      port: server.port,
      stop: (reason) => {
        unwire();
        return server.stop(reason);
      },
      ready: () => endpointReady(server),
      gauges: () => server.gauges(),
      summary: () => ({
        totals: { msgs_out: server.stats.msgsOut, bytes_out: server.stats.bytesOut },
        now: { clients: server.clients.size },
      }),
    };
  },
};
