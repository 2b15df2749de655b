// The endpoint's /metrics and /readyz: its counters (EndpointStats, plain numbers the hot paths bump) read at
// scrape time, the fan-out histogram observed once per flush, the per-client queue sampled each heartbeat.
import { HEARTBEAT_INTERVAL_MS } from '../../protocol/redis-contract.ts';
import type { ReadyChecks } from '../runtime/admin.ts';
import type { RoleMetrics } from '../runtime/metrics.ts';
import type { Subscriber } from '../runtime/subscriber.ts';
import type { EndpointServer } from './server.ts';

/** Register the endpoint's sources; returns the function that stops the queue sampler. */
export function wireEndpointMetrics(m: RoleMetrics, server: EndpointServer, sub: Subscriber): () => void {
  const st = server.stats;
  const sumOf = (map: ReadonlyMap<string, number>) => {
    let n = 0;
    for (const v of map.values()) n += v;
    return n;
  };
  m.source('filmgrain_endpoint_clients', () => server.clients.size)
    .source('filmgrain_endpoint_client_limit', () => server.softLimit)
    .source('filmgrain_endpoint_connections_accepted_total', () => st.accepted)
    .source('filmgrain_endpoint_connections_refused_total', () => ({
      server_full: st.rejected,
      too_many_connections: st.perIpRefused,
      redirected: (st.redirects.get('overload') ?? 0) + (st.redirects.get('drain') ?? 0),
    }))
    .source('filmgrain_endpoint_messages_in_total', () => st.msgsIn)
    .source('filmgrain_endpoint_messages_out_total', () => {
      // live tweets and error frames are counted where they are written; the rest (rankings, pongs, recent
      // tweets, feed answers) is what remains of every message written
      const errors = sumOf(st.errorFrames);
      return { tweet: st.tweetsOut, error: errors, other: Math.max(0, st.msgsOut - st.tweetsOut - errors) };
    })
    .source('filmgrain_endpoint_bytes_out_total', () => st.bytesOut)
    .source('filmgrain_endpoint_error_frames_total', () => st.errorFrames)
    .source('filmgrain_endpoint_closes_total', () => ({
      slow_consumer: st.slowConsumers,
      rate_limit: st.rateClosed,
      idle: st.idleClosed,
      connect_timeout: st.connectTimeouts,
    }))
    .source('filmgrain_endpoint_redirects_total', () => st.redirects)
    .source('filmgrain_endpoint_draining', () => (server.draining ? 1 : 0))
    .source('filmgrain_endpoint_redis_subscriber_up', () => (sub.redis.status === 'ready' ? 1 : 0));
  const fanout = m.histogram('filmgrain_endpoint_fanout_latency_seconds');
  server.feeds.onFlush = (s) => fanout.observe(s);
  const queue = m.histogram('filmgrain_endpoint_client_queue_bytes');
  const timer = setInterval(() => {
    for (const c of server.clients) queue.observe(c.pendingBytes);
  }, HEARTBEAT_INTERVAL_MS);
  timer.unref();
  return () => {
    clearInterval(timer);
    server.feeds.onFlush = undefined;
  };
}

/** Ready: taking clients (not draining, under its soft limit); Redis is the runtime's check. */
export function endpointReady(server: EndpointServer): ReadyChecks {
  const n = server.clients.size;
  return {
    draining: server.draining ? { ok: false, why: 'the endpoint is draining its clients' } : { ok: true },
    soft_limit:
      n < server.softLimit
        ? { ok: true }
        : { ok: false, why: `${n} clients, at or above the soft limit of ${server.softLimit}` },
  };
}
