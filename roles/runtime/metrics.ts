// A role's Prometheus registry, built from the one metric table (protocol/metrics.ts): every metric of the role
// is registered here and nowhere else. Counters and gauges are read at scrape time from plain numbers the role
// keeps anyway (a `source` per metric, called in prom-client's collect()), so the hot paths only do `n++`;
// histograms are observed where the time is taken (once per batch, never per client write).
import client from 'prom-client';
import {
  DEFAULT_METRICS_PREFIX,
  METRICS,
  type MetricName,
  type MetricRole,
  metricsOf,
} from '../../protocol/metrics.ts';

/** What a source gives: one number, or one number per value of the metric's (single) label. */
export type MetricValue = number | ReadonlyMap<string, number> | Readonly<Record<string, number>>;
const LINT_FAILING_DEFAULTS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

export type MetricSource = () => MetricValue;

export interface Observer {
  observe(value: number): void;
}

const entries = (v: Exclude<MetricValue, number>): Iterable<[string, number]> =>
  v instanceof Map ? v.entries() : Object.entries(v);

export class RoleMetrics {
  readonly registry = new client.Registry();
  private readonly sources = new Map<MetricName, MetricSource>();
  private readonly histograms = new Map<MetricName, client.Histogram>();

  constructor(
    readonly role: MetricRole,
    opts: { nodeDefaults?: boolean } = {},
  ) {
    if (opts.nodeDefaults !== false) {
      client.collectDefaultMetrics({ register: this.registry, prefix: DEFAULT_METRICS_PREFIX });
      // gauges named like counters fail `promtool check metrics`; the same counts are in
      // nodejs_active_{handles,requests,resources} by type (sum them)
      for (const n of LINT_FAILING_DEFAULTS)
        this.registry.removeSingleMetric(`${DEFAULT_METRICS_PREFIX}${n}`);
    }
    const sources = this.sources;
    for (const name of metricsOf(role)) {
      const def = METRICS[name];
      const labelNames = [...def.labels];
      const label = labelNames[0];
      const read = (set: (labels: Record<string, string> | undefined, v: number) => void) => {
        const src = sources.get(name);
        if (!src) return;
        const v = src();
        if (typeof v === 'number') set(undefined, v);
        else if (label) for (const [k, n] of entries(v)) set({ [label]: k }, n);
      };
      if (def.type === 'histogram') {
        this.histograms.set(
          name,
          new client.Histogram({
            name,
            help: def.help,
            labelNames,
            buckets: [...(def.buckets ?? [])],
            registers: [this.registry],
          }),
        );
      } else if (def.type === 'counter') {
        new client.Counter({
          name,
          help: def.help,
          labelNames,
          registers: [this.registry],
          collect() {
            if (!sources.has(name)) return;
            this.reset();
            read((l, v) => (l ? this.inc(l, Math.max(0, v)) : this.inc(Math.max(0, v))));
          },
        });
      } else {
        new client.Gauge({
          name,
          help: def.help,
          labelNames,
          registers: [this.registry],
          collect() {
            if (!sources.has(name)) return;
            this.reset();
            read((l, v) => (l ? this.set(l, v) : this.set(v)));
          },
        });
      }
    }
  }

  /** Read a counter or gauge from `fn` at every scrape (counters: the running total since start). */
  source(name: MetricName, fn: MetricSource): this {
    if (METRICS[name].role !== this.role || METRICS[name].type === 'histogram') {
      throw new Error(`${name} is not a ${this.role} counter or gauge (protocol/metrics.ts)`);
    }
    this.sources.set(name, fn);
    return this;
  }

  /** The histogram of the table under `name`. */
  histogram(name: MetricName): Observer {
    const h = this.histograms.get(name);
    if (!h) throw new Error(`${name} is not a ${this.role} histogram (protocol/metrics.ts)`);
    return h;
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}

/** Increment a per-label count kept in a Map (the label values come from a fixed set at the call site). */
export function bump(m: Map<string, number>, key: string, by = 1): void {
  m.set(key, (m.get(key) ?? 0) + by);
}
