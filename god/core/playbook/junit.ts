// `god play --junit FILE`: the play as a JUnit XML report CI systems display (GitLab, Jenkins, GitHub
// reporters): one <testsuite> for the play, one <testcase> per step with its duration; a failed step is a
// <failure> with its error and hint, a step never reached <skipped/>. A step that failed under
// continue_on_error passes (the play went on, as its author asked) with the error in <system-err>.
import fs from 'node:fs';
import path from 'node:path';
import { scrubSecrets } from '../../../kernel/redact.ts';
import type { PlayResult, StepResult } from './runner.ts';

/**
 * Text safe in XML 1.0: the five specials escaped, and the characters XML cannot carry at all (C0 controls but
 * tab/newline/CR, lone surrogates, U+FFFE/U+FFFF) replaced by U+FFFD — a step's error may quote anything.
 */
export function xmlEscape(s: string): string {
  return s
    .replace(
      /[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g,
      '\ufffd',
    )
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

const secs = (ms: number) => (ms / 1000).toFixed(3);

function testcase(play: string, st: StepResult): string[] {
  const head = `    <testcase name="${xmlEscape(`${st.index}. ${st.name}`)}" classname="${xmlEscape(`${play}.${st.kind}`)}" time="${secs(st.ms)}"`;
  const out: string[] = [];
  if (st.status === 'failed' && !st.ignored) {
    const msg = st.error ?? 'step failed';
    out.push(
      `      <failure message="${xmlEscape(msg.split('\n')[0]!)}" type="${xmlEscape(st.kind)}">${xmlEscape(`${msg}${st.hint ? `\n→ ${st.hint}` : ''}`)}</failure>`,
    );
  } else if (st.status === 'skipped') {
    out.push(`      <skipped message="${xmlEscape(st.detail ?? 'not run')}"/>`);
  } else if (st.status === 'failed') {
    out.push(`      <system-err>${xmlEscape(`failed (continue_on_error): ${st.error ?? ''}`)}</system-err>`);
  }
  const said = [...st.changes.map((c) => `${st.status === 'planned' ? 'would ' : ''}${c}`), st.detail ?? ''];
  const text = said.filter(Boolean).join('\n');
  if (text && st.status !== 'skipped') out.push(`      <system-out>${xmlEscape(text)}</system-out>`);
  return out.length ? [`${head}>`, ...out, '    </testcase>'] : [`${head}/>`];
}

/** The report's text (UTF-8). */
export function junitXml(r: PlayResult, now = new Date()): string {
  const failures = r.steps.filter((s) => s.status === 'failed' && !s.ignored).length;
  const skipped = r.steps.filter((s) => s.status === 'skipped').length;
  const attrs = `name="${xmlEscape(r.play)}" tests="${r.steps.length}" failures="${failures}" errors="0" skipped="${skipped}" time="${secs(r.ms)}"`;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites ${attrs}>`,
    `  <testsuite ${attrs} timestamp="${now.toISOString().slice(0, 19)}" file="${xmlEscape(r.file)}">`,
    ...r.steps.flatMap((st) => testcase(r.play, st)),
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}

/**
 * Write the report to `file` (its folder made if missing; written whole, then renamed into place, so a CI
 * reader never sees half of it). URLs with passwords a step's error quoted are redacted.
 */
export function writeJunit(file: string, r: PlayResult): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, scrubSecrets(junitXml(r)));
  fs.renameSync(tmp, file);
}

/** A playbook that did not load (exit 2): one failed test case, so that CI shows why. */
export function brokenPlayResult(file: string, message: string): PlayResult {
  return {
    play: path.basename(file).replace(/\.ya?ml$/, ''),
    file,
    dry_run: false,
    ok: false,
    vars: {},
    steps: [
      {
        index: 0,
        name: 'load and validate the playbook',
        kind: 'assert',
        line: null,
        status: 'failed',
        changed: null,
        changes: [],
        error: message,
        ms: 0,
      },
    ],
    changed: 0,
    failed_step: { index: 0, name: 'load and validate the playbook', error: message },
    ms: 0,
  };
}
