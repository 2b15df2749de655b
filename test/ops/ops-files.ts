// What the ops tests share: where the shipped files are, promtool, and the rules file read as data.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';

export const ROOT = path.resolve(import.meta.dirname, '../..');
export const RULES = path.join(ROOT, 'ops/prometheus/filmgrain.rules.yml');
export const RULE_TESTS = path.join(ROOT, 'ops/prometheus/filmgrain.rules.test.yml');
export const PROM_CONFIG = path.join(ROOT, 'ops/prometheus/prometheus.example.yml');
export const RUNBOOK = path.join(ROOT, 'ops/RUNBOOK.md');
export const DASHBOARD = path.join(ROOT, 'ops/grafana/filmgrain.json');

export interface PromtoolResult {
  status: number | null;
  out: string;
}

/** Run promtool (Debian's prometheus package) and return its exit status and all it printed. */
export function promtool(args: string[], cwd = ROOT): PromtoolResult {
  const r = spawnSync('promtool', args, { cwd, encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw r.error;
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

export function promtoolAvailable(): boolean {
  const r = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
  return !r.error && r.status === 0;
}

export interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export function loadRules(file = RULES): Rule[] {
  const doc = YAML.parse(fs.readFileSync(file, 'utf8')) as { groups: Array<{ rules: Rule[] }> };
  return doc.groups.flatMap((g) => g.rules);
}

export interface RuleTestGroup {
  name: string;
  input_series: Array<{ series: string; values: string }>;
  alert_rule_test?: Array<{ eval_time: string; alertname: string; exp_alerts: unknown[] }>;
}

export function loadRuleTests(file = RULE_TESTS): RuleTestGroup[] {
  return (YAML.parse(fs.readFileSync(file, 'utf8')) as { tests: RuleTestGroup[] }).tests;
}

/** GitHub's anchor for a Markdown heading: lower case, punctuation dropped, spaces to dashes. */
export function anchorOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

export function runbookAnchors(file = RUNBOOK): Set<string> {
  const text = fs.readFileSync(file, 'utf8');
  return new Set([...text.matchAll(/^#{1,6}\s+(.+)$/gm)].map((m) => anchorOf(m[1]!)));
}
