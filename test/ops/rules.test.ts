// The shipped alert rules (ops/prometheus/): valid for promtool, every alert unit-tested with a case that fires
// and a near-miss that must not, and each one pointing at its section of ops/RUNBOOK.md.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeTempDir, skipWithout } from '../harness/index.ts';
import {
  loadRules,
  loadRuleTests,
  PROM_CONFIG,
  promtool,
  promtoolAvailable,
  RULE_TESTS,
  RULES,
  runbookAnchors,
} from './ops-files.ts';

const alerts = loadRules().filter((r) => r.alert);
const alertNames = [...new Set(alerts.map((r) => r.alert!))];

describe.skipIf(skipWithout({ promtool: promtoolAvailable() }, 'apt-get install -y prometheus'))(
  'promtool',
  () => {
    it('check rules: the rules file is valid', () => {
      const r = promtool(['check', 'rules', RULES]);
      expect(r.out).toMatch(/SUCCESS: \d+ rules found/);
      expect(r.status, r.out).toBe(0);
    });

    it('test rules: every case in filmgrain.rules.test.yml passes', () => {
      const r = promtool(['test', 'rules', RULE_TESTS]);
      expect(r.status, r.out).toBe(0);
      expect(r.out).toContain('SUCCESS');
    });

    it('check config: the example scrape config (file_sd + rule_files) is valid', () => {
      const r = promtool(['check', 'config', PROM_CONFIG]);
      expect(r.status, r.out).toBe(0);
    });

    // The harness around promtool must see a failing case as a failure: the same tests against rules whose
    // ProcessDown lost its `for:` (a restart would page) must not pass.
    it('test rules fails when a rule loses its for: (the near-miss catches it)', () => {
      const dir = makeTempDir('rules-mutant');
      const text = fs.readFileSync(RULES, 'utf8');
      const mutant = text.replace(
        /(expr: up\{role=~"endpoint\|feeder\|keeper"\} == 0\n\s+)for: 3m/,
        '$1for: 0m',
      );
      expect(mutant).not.toBe(text);
      fs.writeFileSync(path.join(dir, 'filmgrain.rules.yml'), mutant);
      fs.copyFileSync(RULE_TESTS, path.join(dir, 'filmgrain.rules.test.yml'));
      const r = promtool(['test', 'rules', path.join(dir, 'filmgrain.rules.test.yml')]);
      expect(r.status).not.toBe(0);
      expect(r.out).toContain('FAILED');
      expect(r.out).toContain('alertname: FilmgrainProcessDown');
    });
  },
);

describe('the rules as data', () => {
  const tests = loadRuleTests();

  it('ships the alerts the issue asks for', () => {
    expect(alertNames).toEqual(
      expect.arrayContaining([
        'FilmgrainEndpointNearClientLimit',
        'FilmgrainSlowConsumerClosesRising',
        'FilmgrainFeederPublishingNothing',
        'FilmgrainKeeperLagGrowing',
        'FilmgrainArchiveFailing',
        'FilmgrainProcessDown',
        'FilmgrainRoleDown',
        'FilmgrainEndpointRedisDisconnected',
      ]),
    );
  });

  it.each(alertNames)('%s has a case that fires and one that must not', (name) => {
    const cases = tests.flatMap((t) => (t.alert_rule_test ?? []).filter((c) => c.alertname === name));
    expect(
      cases.some((c) => c.exp_alerts.length > 0),
      'a case where it fires',
    ).toBe(true);
    expect(
      cases.some((c) => c.exp_alerts.length === 0),
      'a near-miss where it must not',
    ).toBe(true);
  });

  it.each(alerts.map((r) => [`${r.alert} ${r.labels?.role ?? ''}`.trim(), r] as const))(
    '%s: severity, summary, runbook line and a runbook section',
    (_n, rule) => {
      expect(['warning', 'critical']).toContain(rule.labels?.severity);
      expect(rule.for, 'a for: duration (no alert on one evaluation)').toMatch(/^\d+[smh]$/);
      expect(rule.annotations?.summary).toBeTruthy();
      expect(rule.annotations?.runbook?.length ?? 0).toBeGreaterThan(20);
      const url = rule.annotations?.runbook_url ?? '';
      expect(url).toBe(`ops/RUNBOOK.md#${rule.alert!.toLowerCase()}`);
      expect(runbookAnchors().has(url.split('#')[1]!), `${url}: no such heading in ops/RUNBOOK.md`).toBe(
        true,
      );
    },
  );
});
