// Which metric names and label names a PromQL expression uses, and whether the roles export them: the check
// behind test/ops/dashboard.test.ts. A small lexer, not a full PromQL parser: it knows strings, label
// matchers, `[range]`s, function calls and the grouping clauses (by, without, on, ignoring, group_left/right),
// which is all the shipped rules and dashboard use. Grafana's `$var` / `${var}` may appear inside strings and
// ranges, where they are skipped.
import { collectDefaultMetrics, Registry } from 'prom-client';
import { DEFAULT_METRICS_PREFIX, METRICS, type MetricDef, TARGET_LABELS } from '../../protocol/metrics.ts';

export interface Selector {
  metric: string;
  /** label names in its `{...}` matchers */
  matchers: string[];
}

export interface ExprNames {
  selectors: Selector[];
  /** label names in by/without/on/ignoring/group_left/group_right clauses */
  grouping: string[];
}

const GROUPING = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
const AGGREGATIONS = new Set(
  'sum min max avg group stddev stdvar count count_values bottomk topk quantile'.split(' '),
);
const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan']);

type Tok = { t: 'id' | 'str' | 'num' | 'p'; v: string };

function lex(expr: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < expr.length) {
    const c = expr[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '#') {
      while (i < expr.length && expr[i] !== '\n') i++;
    } else if (c === '"' || c === "'" || c === '`') {
      let j = i + 1;
      while (j < expr.length && expr[j] !== c) j += expr[j] === '\\' && c !== '`' ? 2 : 1;
      if (j >= expr.length) throw new Error(`unterminated string in: ${expr}`);
      out.push({ t: 'str', v: expr.slice(i + 1, j) });
      i = j + 1;
    } else if (c === '[') {
      const j = expr.indexOf(']', i);
      if (j < 0) throw new Error(`unterminated [ in: ${expr}`);
      i = j + 1; // a range or subquery: durations and Grafana's $__rate_interval, no names
    } else if (/[a-zA-Z_:]/.test(c)) {
      const m = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(expr.slice(i))!;
      out.push({ t: 'id', v: m[0] });
      i += m[0].length;
    } else if (/[0-9.]/.test(c)) {
      const m = /^[0-9.]+(?:[eE][+-]?[0-9]+)?[a-zA-Z0-9]*/.exec(expr.slice(i))!;
      out.push({ t: 'num', v: m[0] });
      i += m[0].length;
    } else if (c === '$') {
      const m = /^\$(?:\{[^}]*\}|\w+)/.exec(expr.slice(i));
      i += m ? m[0].length : 1;
    } else {
      out.push({ t: 'p', v: c });
      i++;
    }
  }
  return out;
}

/** Label names of a `{...}` starting at toks[i] (the `{`); returns them and the index after the `}`. */
function matchers(toks: Tok[], i: number): [string[], number] {
  const names: string[] = [];
  i++;
  while (i < toks.length && toks[i]!.v !== '}') {
    const tok = toks[i]!;
    if (tok.t === 'id' || tok.t === 'str') {
      names.push(tok.v);
      i++;
      while (i < toks.length && toks[i]!.t === 'p' && /[=!~]/.test(toks[i]!.v)) i++; // =, !=, =~, !~
      i++; // the value
    } else {
      i++; // a comma
    }
  }
  return [names, i + 1];
}

export function namesIn(expr: string): ExprNames {
  const toks = lex(expr);
  const selectors: Selector[] = [];
  const grouping: string[] = [];
  for (let i = 0; i < toks.length; ) {
    const tok = toks[i]!;
    const next = toks[i + 1];
    if (tok.t === 'id' && GROUPING.has(tok.v)) {
      i++;
      if (toks[i]?.v === '(') {
        for (i++; i < toks.length && toks[i]!.v !== ')'; i++)
          if (toks[i]!.t === 'id') grouping.push(toks[i]!.v);
        i++;
      }
    } else if (
      tok.t === 'id' &&
      (next?.v === '(' || (AGGREGATIONS.has(tok.v) && next && GROUPING.has(next.v)))
    ) {
      i++; // a function or aggregation (`sum by (x) (...)` names its grouping before its argument)
    } else if (tok.t === 'id' && KEYWORDS.has(tok.v.toLowerCase())) {
      i++;
    } else if (tok.t === 'id') {
      let m: string[] = [];
      i++;
      if (toks[i]?.v === '{') [m, i] = matchers(toks, i);
      selectors.push({ metric: tok.v, matchers: m });
    } else if (tok.v === '{') {
      const [m, j] = matchers(toks, i);
      selectors.push({ metric: '', matchers: m }); // {__name__=...}: no name to check, flagged by checkExpr
      i = j;
    } else {
      i++;
    }
  }
  return { selectors, grouping };
}

interface Known {
  type: MetricDef['type'] | 'summary';
  labels: readonly string[];
}

/** prom-client's Node defaults, as the roles register them (same library, same prefix). */
function defaultMetrics(): Map<string, Known> {
  const reg = new Registry();
  collectDefaultMetrics({ register: reg, prefix: DEFAULT_METRICS_PREFIX });
  const out = new Map<string, Known>();
  for (const m of reg.getMetricsAsArray()) {
    const mm = m as unknown as { name: string; type: string; labelNames?: string[] };
    out.set(mm.name, { type: mm.type as Known['type'], labels: mm.labelNames ?? [] });
  }
  reg.clear();
  return out;
}

let defaults: Map<string, Known> | undefined;

/** Labels Prometheus itself puts on every scraped series. */
const SCRAPE_LABELS = ['job', 'instance'];

/** What a name in a query resolves to: the exported metric and the labels its series carry, or undefined. */
export function resolveMetric(name: string): { base: string; labels: Set<string> } | undefined {
  defaults ??= defaultMetrics();
  const common = [...TARGET_LABELS, ...SCRAPE_LABELS];
  if (name === 'up') return { base: 'up', labels: new Set(common) };
  const known = (n: string): Known | undefined =>
    n in METRICS ? (METRICS as Record<string, MetricDef>)[n] : defaults!.get(n);
  const direct = known(name);
  if (direct && direct.type !== 'histogram' && direct.type !== 'summary')
    return { base: name, labels: new Set([...direct.labels, ...common]) };
  const m = /^(.*)_(bucket|sum|count)$/.exec(name);
  const base = m ? known(m[1]!) : undefined;
  if (m && base && (base.type === 'histogram' || (base.type === 'summary' && m[2] !== 'bucket'))) {
    const extra = m[2] === 'bucket' ? ['le'] : [];
    return { base: m[1]!, labels: new Set([...base.labels, ...common, ...extra]) };
  }
  return undefined; // unknown, or a histogram named without its _bucket/_sum/_count
}

/** Every problem with one expression: unknown metrics, labels the metric does not carry. */
export function checkExpr(expr: string): string[] {
  const problems: string[] = [];
  const { selectors, grouping } = namesIn(expr);
  if (selectors.length === 0) problems.push(`no metric in: ${expr}`);
  const all = new Set<string>();
  for (const s of selectors) {
    if (!s.metric) {
      problems.push(`a selector without a metric name in: ${expr}`);
      continue;
    }
    const r = resolveMetric(s.metric);
    if (!r) {
      problems.push(
        `${s.metric}: not a metric the roles export (protocol/metrics.ts, up, or a Node default)`,
      );
      continue;
    }
    for (const l of r.labels) all.add(l);
    for (const l of s.matchers) {
      if (!r.labels.has(l)) problems.push(`${s.metric}{${l}=...}: ${r.base} has no label ${l}`);
    }
  }
  for (const l of grouping) {
    if (!all.has(l)) problems.push(`by/on (${l}): no metric in the expression has a label ${l}`);
  }
  return problems;
}

/** Labels a Grafana legend uses: `{{host}}`. */
export function legendLabels(text: string): string[] {
  return [...text.matchAll(/\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}/g)].map((m) => m[1]!);
}

/** Labels an alert annotation template uses: `$labels.host`, anywhere in a `{{ ... }}`. */
export function annotationLabels(text: string): string[] {
  return [...text.matchAll(/\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)/g)].map((m) => m[1]!);
}
