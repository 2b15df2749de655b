// Every Prometheus metric a role exports, one table (the same idea as messages.ts and redis-contract.ts): the
// roles register exactly these (roles/runtime/metrics), the shipped alert rules and the Grafana dashboard
// (ops/) may name only these, and a test holds both to it. Names follow Prometheus conventions: the
// `filmgrain_<role>_` prefix, `_total` for counters, base units (`_seconds`, `_bytes`), and label sets that
// are bounded (a reason, an action, a code: never a client, a tweet or a movie).

export type MetricType = 'counter' | 'gauge' | 'histogram';
export type MetricRole = 'endpoint' | 'feeder' | 'keeper';

export interface MetricDef {
  role: MetricRole;
  type: MetricType;
  help: string;
  /** label names; each one's values must come from a fixed, small set */
  labels: readonly string[];
  /** histogram bucket upper bounds, in the metric's base unit */
  buckets?: readonly number[];
}

/** Latency buckets in seconds: 0.5 ms … 10 s. */
const LATENCY_S = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;
/** Per-client queue sizes in bytes: 0 … 16 MiB. */
const QUEUE_BYTES = [0, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216] as const;

const def = <const T extends Record<string, MetricDef>>(t: T) => t;

export const METRICS = def({
  // endpoint
  filmgrain_endpoint_clients: {
    role: 'endpoint',
    type: 'gauge',
    help: 'Clients connected now.',
    labels: [],
  },
  filmgrain_endpoint_client_limit: {
    role: 'endpoint',
    type: 'gauge',
    help: 'Soft limit on connected clients (redirects start above it).',
    labels: [],
  },
  filmgrain_endpoint_connections_accepted_total: {
    role: 'endpoint',
    type: 'counter',
    help: 'Connections accepted.',
    labels: [],
  },
  filmgrain_endpoint_connections_refused_total: {
    role: 'endpoint',
    type: 'counter',
    help: 'Connections refused or redirected at connect, by reason.',
    labels: ['reason'],
  },
  filmgrain_endpoint_messages_in_total: {
    role: 'endpoint',
    type: 'counter',
    help: 'Client messages received, by action (unknown actions count as "invalid").',
    labels: ['action'],
  },
  filmgrain_endpoint_messages_out_total: {
    role: 'endpoint',
    type: 'counter',
    help: 'Messages written to clients, by kind (tweet: live tweets, error: error frames, other: rankings, pongs, recent tweets, answers).',
    labels: ['action'],
  },
  filmgrain_endpoint_bytes_out_total: {
    role: 'endpoint',
    type: 'counter',
    help: 'Bytes written to clients.',
    labels: [],
  },
  filmgrain_endpoint_error_frames_total: {
    role: 'endpoint',
    type: 'counter',
    help: 'Error messages sent to clients, by protocol error code.',
    labels: ['code'],
  },
  filmgrain_endpoint_closes_total: {
    role: 'endpoint',
    type: 'counter',
    help: 'Connections closed by the endpoint, by reason (slow_consumer, rate_limit, idle, shed, drain, ...).',
    labels: ['reason'],
  },
  filmgrain_endpoint_redirects_total: {
    role: 'endpoint',
    type: 'counter',
    help: 'Reconnect messages sent, by reason (overload, shed, drain).',
    labels: ['reason'],
  },
  filmgrain_endpoint_draining: {
    role: 'endpoint',
    type: 'gauge',
    help: '1 while the endpoint drains its clients, else 0.',
    labels: [],
  },
  filmgrain_endpoint_client_queue_bytes: {
    role: 'endpoint',
    type: 'histogram',
    help: "Bytes waiting in a client's outgoing queue, sampled per client each heartbeat.",
    labels: [],
    buckets: QUEUE_BYTES,
  },
  filmgrain_endpoint_fanout_latency_seconds: {
    role: 'endpoint',
    type: 'histogram',
    help: "Time from tweet lines arriving from Redis to the endpoint writing them to their clients (per flush: the endpoint's share of fan-out; the wire line carries no publish time).",
    labels: [],
    buckets: LATENCY_S,
  },
  filmgrain_endpoint_redis_subscriber_up: {
    role: 'endpoint',
    type: 'gauge',
    help: "1 when the endpoint's Redis subscriber is connected and subscribed, else 0.",
    labels: [],
  },
  // feeder
  filmgrain_feeder_tweets_received_total: {
    role: 'feeder',
    type: 'counter',
    help: 'Tweets received from the sources, by source kind.',
    labels: ['source'],
  },
  filmgrain_feeder_tweets_matched_total: {
    role: 'feeder',
    type: 'counter',
    help: 'Tweets that matched at least one movie of the catalog.',
    labels: [],
  },
  filmgrain_feeder_tweets_published_total: {
    role: 'feeder',
    type: 'counter',
    help: 'Tweet messages published to Redis (one per matched movie).',
    labels: [],
  },
  filmgrain_feeder_tweets_dropped_total: {
    role: 'feeder',
    type: 'counter',
    help: 'Tweets dropped, by reason (invalid, backpressure, redis_down, ...).',
    labels: ['reason'],
  },
  filmgrain_feeder_stream_reconnects_total: {
    role: 'feeder',
    type: 'counter',
    help: 'Reconnects of a tweet source, by source kind.',
    labels: ['source'],
  },
  filmgrain_feeder_stream_backoff_seconds: {
    role: 'feeder',
    type: 'gauge',
    help: 'Current reconnect backoff of a source (0 when connected), by source kind.',
    labels: ['source'],
  },
  filmgrain_feeder_match_latency_seconds: {
    role: 'feeder',
    type: 'histogram',
    help: 'Time to match one tweet against the catalog (one tweet in 64 is timed).',
    labels: [],
    buckets: LATENCY_S,
  },
  filmgrain_feeder_publish_latency_seconds: {
    role: 'feeder',
    type: 'histogram',
    help: 'Time from receiving a batch to Redis acknowledging its publishes.',
    labels: [],
    buckets: LATENCY_S,
  },
  filmgrain_feeder_ranking_age_seconds: {
    role: 'feeder',
    type: 'gauge',
    help: 'Age of the ranking last written to Redis.',
    labels: [],
  },
  // keeper
  filmgrain_keeper_lines_read_total: {
    role: 'keeper',
    type: 'counter',
    help: 'Log lines read from the log stream.',
    labels: [],
  },
  filmgrain_keeper_lines_archived_total: {
    role: 'keeper',
    type: 'counter',
    help: 'Log lines written to the archive.',
    labels: [],
  },
  filmgrain_keeper_lines_spooled_total: {
    role: 'keeper',
    type: 'counter',
    help: 'Log lines written to the local spool because the archive was unreachable.',
    labels: [],
  },
  filmgrain_keeper_duplicates_dropped_total: {
    role: 'keeper',
    type: 'counter',
    help: 'Log lines dropped as copies (same lid) of lines this keeper already read: batches a role re-sent after a Redis failover.',
    labels: [],
  },
  filmgrain_keeper_archive_latency_seconds: {
    role: 'keeper',
    type: 'histogram',
    help: 'Time to write one archive object.',
    labels: [],
    buckets: LATENCY_S,
  },
  filmgrain_keeper_archive_failures_total: {
    role: 'keeper',
    type: 'counter',
    help: 'Archive writes that failed.',
    labels: [],
  },
  filmgrain_keeper_spool_bytes: {
    role: 'keeper',
    type: 'gauge',
    help: 'Bytes in the local spool waiting for the archive.',
    labels: [],
  },
  filmgrain_keeper_group_pending: {
    role: 'keeper',
    type: 'gauge',
    help: "Entries delivered to the keepers' consumer group and not yet acknowledged.",
    labels: [],
  },
  filmgrain_keeper_group_lag: {
    role: 'keeper',
    type: 'gauge',
    help: "Entries of the log stream not yet delivered to the keepers' consumer group.",
    labels: [],
  },
  filmgrain_keeper_alerts_sent_total: {
    role: 'keeper',
    type: 'counter',
    help: 'Alerts sent, by kind (sms, email).',
    labels: ['kind'],
  },
  filmgrain_keeper_archive_up: {
    role: 'keeper',
    type: 'gauge',
    help: '1 when the last archive write succeeded, else 0.',
    labels: [],
  },
});

export type MetricName = keyof typeof METRICS;

/** The prefix of prom-client's Node defaults every role exports too (`filmgrain_process_cpu_seconds_total`,
 * `filmgrain_nodejs_eventloop_lag_seconds`, ...). */
export const DEFAULT_METRICS_PREFIX = 'filmgrain_';

/** Labels Prometheus targets carry (God's file_sd file): the fleet's view of a process, never per client. */
export const TARGET_LABELS = ['role', 'process', 'host', 'release'] as const;

export const metricsOf = (role: MetricRole): MetricName[] =>
  (Object.keys(METRICS) as MetricName[]).filter((n) => METRICS[n].role === role);
