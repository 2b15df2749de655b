// The Grafana dashboard and the alert rules name only what the roles export: every metric in their PromQL is in
// protocol/metrics.ts (or `up`, or one of prom-client's Node defaults with the filmgrain_ prefix; histograms as
// _bucket/_sum/_count), and every label they match, group or print is one that metric carries or a target
// label (TARGET_LABELS, plus job/instance). The synthetic series of the rules' unit tests are held to it too,
// so a renamed metric cannot leave tests that still pass on the old name.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { makeTempDir, skipWithout } from '../harness/index.ts';
import { METRICS } from '../../protocol/metrics.ts';
import { DASHBOARD, loadRules, loadRuleTests, promtool, promtoolAvailable } from './ops-files.ts';
import { annotationLabels, checkExpr, legendLabels, namesIn, resolveMetric } from './promql-names.ts';

interface Target {
  expr: string;
  legendFormat?: string;
  datasource?: { type: string; uid: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  targets?: Target[];
  panels?: Panel[];
}
interface Variable {
  name: string;
  type: string;
  query: string | { query: string };
}
interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: Variable[] };
}

const dash = JSON.parse(fs.readFileSync(DASHBOARD, 'utf8')) as Dashboard;
const panels = dash.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
const queryPanels = panels.filter((p) => p.type !== 'row');

/** `label_values(up{...}, host)` (Grafana's variable query) as the selector and the label it lists. */
function variableQuery(q: string): { expr: string; label: string } {
  const m = /^label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)$/s.exec(q.trim());
  if (!m) throw new Error(`not a label_values(metric, label) query: ${q}`);
  return { expr: m[1]!, label: m[2]! };
}

describe('the checker itself', () => {
  it('accepts what the roles export', () => {
    expect(
      checkExpr('sum by (reason, host) (rate(filmgrain_endpoint_closes_total{reason="idle"}[5m]))'),
    ).toEqual([]);
    expect(
      checkExpr(
        'histogram_quantile(0.99, sum by (le, role) (rate(filmgrain_endpoint_fanout_latency_seconds_bucket{job=~"$job"}[$__rate_interval])))',
      ),
    ).toEqual([]);
    expect(checkExpr('rate(filmgrain_nodejs_gc_duration_seconds_sum{kind="major"}[1m])')).toEqual([]);
    expect(checkExpr('filmgrain_process_resident_memory_bytes and up == 1')).toEqual([]);
  });

  it('rejects a misspelled metric, a misspelled label, a histogram without its suffix', () => {
    expect(checkExpr('rate(filmgrain_endpoint_mesages_out_total[5m])')).toEqual([
      expect.stringContaining('filmgrain_endpoint_mesages_out_total: not a metric'),
    ]);
    expect(checkExpr('filmgrain_endpoint_closes_total{reasn="idle"}')).toEqual([
      expect.stringContaining('has no label reasn'),
    ]);
    expect(checkExpr('sum by (rol) (filmgrain_endpoint_clients)')).toEqual([
      expect.stringContaining('by/on (rol)'),
    ]);
    expect(checkExpr('filmgrain_endpoint_fanout_latency_seconds')).not.toEqual([]);
    expect(checkExpr('filmgrain_endpoint_clients_bucket')).not.toEqual([]); // a gauge has no buckets
    expect(checkExpr('sum by (le) (filmgrain_endpoint_clients)')).not.toEqual([]);
    expect(checkExpr('filmgrain_nodejs_eventloop_lag_p98_seconds')).not.toEqual([]);
  });

  it('does not read names out of strings, ranges or Grafana variables', () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's ${var}, which the lexer must skip
    expect(namesIn('rate(up{host=~"$host|filmgrain_fake"}[${__rate_interval}]) > bool 0 offset 5m')).toEqual({
      selectors: [{ metric: 'up', matchers: ['host'] }],
      grouping: [],
    });
  });
});

describe('ops/grafana/filmgrain.json', () => {
  it('has a Prometheus datasource variable, and every panel and query uses it', () => {
    const ds = dash.templating.list.find((v) => v.type === 'datasource');
    expect(ds?.query).toBe('prometheus');
    for (const p of queryPanels) {
      expect(p.datasource?.uid, p.title).toBe(`\${${ds!.name}}`);
      for (const t of p.targets ?? []) expect(t.datasource?.uid, p.title).toBe(`\${${ds!.name}}`);
    }
    for (const v of dash.templating.list.filter((v) => v.type === 'query')) {
      expect((v as unknown as Panel).datasource?.uid, v.name).toBe(`\${${ds!.name}}`);
    }
  });

  it('panels have unique ids and at least one query each', () => {
    expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
    for (const p of queryPanels) expect(p.targets?.length, p.title).toBeGreaterThan(0);
  });

  it('shows what the issue asks for: clients, deliveries/s, fan-out latency, tweets/s, keeper lag', () => {
    const exprs = queryPanels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)).join('\n');
    for (const m of [
      'filmgrain_endpoint_clients',
      'filmgrain_endpoint_messages_out_total',
      'filmgrain_endpoint_fanout_latency_seconds_bucket',
      'filmgrain_feeder_tweets_received_total',
      'filmgrain_feeder_tweets_matched_total',
      'filmgrain_feeder_tweets_published_total',
      'filmgrain_keeper_group_lag',
      'filmgrain_keeper_archive_failures_total',
    ]) {
      expect(exprs).toContain(m);
    }
    expect(exprs).toMatch(/histogram_quantile\(0\.99, sum by \(le[,)]/);
  });

  const targets = queryPanels.flatMap((p) =>
    (p.targets ?? []).map((t) => [`${p.title} / ${t.expr}`, t] as const),
  );

  it.each(targets)('%s', (_name, t) => {
    expect(checkExpr(t.expr)).toEqual([]);
    const labels = new Set(
      namesIn(t.expr).selectors.flatMap((s) => [...(resolveMetric(s.metric)?.labels ?? [])]),
    );
    for (const l of legendLabels(t.legendFormat ?? '')) expect(labels, `legend {{${l}}}`).toContain(l);
  });

  // The lexer above checks names, not syntax: promtool parses every query, as recording rules, with Grafana's
  // variables replaced by what Grafana would put there.
  it.skipIf(skipWithout({ promtool: promtoolAvailable() }, 'apt-get install -y prometheus'))(
    'every query is valid PromQL (promtool check rules)',
    () => {
      const grafana = (e: string) =>
        e.replace(/\$__rate_interval|\$\{__rate_interval\}/g, '1m').replace(/\$\{?(job|role|host)\}?/g, '.*');
      const rules = targets.map(([, t], i) => ({ record: `dashboard:query_${i}`, expr: grafana(t.expr) }));
      const file = path.join(makeTempDir('dashboard-queries'), 'queries.yml');
      fs.writeFileSync(file, YAML.stringify({ groups: [{ name: 'dashboard', rules }] }));
      const r = promtool(['check', 'rules', file]);
      expect(r.status, r.out).toBe(0);
      expect(r.out).toContain(`SUCCESS: ${rules.length} rules found`);
    },
  );

  it('variable queries list labels the targets carry', () => {
    for (const v of dash.templating.list.filter((v) => v.type === 'query')) {
      const q = typeof v.query === 'string' ? v.query : v.query.query;
      const { expr, label } = variableQuery(q);
      expect(checkExpr(`sum by (${label}) (${expr})`), v.name).toEqual([]);
    }
  });
});

describe('ops/prometheus/filmgrain.rules.yml', () => {
  const rules = loadRules();
  it.each(rules.map((r) => [`${r.alert ?? r.record} ${r.labels?.role ?? ''}`.trim(), r] as const))(
    '%s',
    (_n, rule) => {
      expect(checkExpr(rule.expr)).toEqual([]);
      const labels = new Set([
        ...namesIn(rule.expr).selectors.flatMap((s) => [...(resolveMetric(s.metric)?.labels ?? [])]),
        ...Object.keys(rule.labels ?? {}),
      ]);
      for (const a of Object.values(rule.annotations ?? {})) {
        for (const l of annotationLabels(a)) expect(labels, `annotation {{ $labels.${l} }}`).toContain(l);
      }
    },
  );

  it('the unit tests feed only exported series, with labels they carry', () => {
    const series = loadRuleTests().flatMap((t) => t.input_series.map((s) => s.series));
    expect(series.length).toBeGreaterThan(0);
    for (const s of series) expect(checkExpr(s), s).toEqual([]);
  });

  it('every metric the rules alert on is in the table (not only in a default)', () => {
    const used = rules.flatMap((r) => namesIn(r.expr).selectors.map((s) => resolveMetric(s.metric)!.base));
    for (const m of used) expect(m === 'up' || m in METRICS, m).toBe(true);
  });
});
