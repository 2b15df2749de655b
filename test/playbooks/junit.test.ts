// `god play --junit FILE`: the report of a real play (run steps on the local provider: one ok, one failing
// under continue_on_error, one failing, one never reached) parsed by a strict XML parser (Python's
// xml.etree, the standard library's expat): one testcase per step with its duration, the failure with its
// message (names and errors full of <, &, quotes and a control character, all escaped), the skipped step,
// the totals. A playbook that does not load still leaves a report saying why.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { junitXml, xmlEscape } from '../../god/core/playbook/junit.ts';
import { makeTempDir, skipWithout } from '../harness/index.ts';
import { godIn } from '../god/cli-helpers.ts';

const hasPython =
  spawnSync('python3', ['-c', 'import xml.etree.ElementTree'], { stdio: 'ignore' }).status === 0;

interface Node {
  tag: string;
  attrib: Record<string, string>;
  text: string | null;
  children: Node[];
}

/** The XML as a strict parser reads it (throws on anything not well-formed). */
function parseXml(text: string): Node {
  const py = `import sys, json, xml.etree.ElementTree as E
def d(e): return {'tag': e.tag, 'attrib': e.attrib, 'text': e.text, 'children': [d(c) for c in e]}
print(json.dumps(d(E.fromstring(sys.stdin.buffer.read()))))`;
  return JSON.parse(execFileSync('python3', ['-c', py], { input: text, encoding: 'utf8' })) as Node;
}

const PLAY = `name: ci <checks> & "more"
steps:
  - name: say hi
    run: { command: "echo hi" }
  - name: tolerated
    continue_on_error: true
    run: { command: "exit 4" }
  - name: breaks <here> & 'now'
    run: { command: "printf 'bad \\\\001 <tag> & \\"q\\"\\\\n' >&2; exit 3" }
  - name: never reached
    run: { command: "echo no" }
`;

describe.skipIf(skipWithout({ python3: hasPython }, 'apt-get install -y python3'))('god play --junit', () => {
  it('one testcase per step, the failure with its message, valid XML', async () => {
    const dir = makeTempDir('god-junit');
    fs.writeFileSync(path.join(dir, 'ci.yaml'), PLAY);
    const r = await godIn(['play', 'ci.yaml', '--junit', 'reports/play.xml'], { cwd: dir });
    expect(r.code).toBe(1);
    const root = parseXml(fs.readFileSync(path.join(dir, 'reports/play.xml'), 'utf8'));
    expect(root.tag).toBe('testsuites');
    const suite = root.children[0]!;
    expect(suite.attrib).toMatchObject({
      name: 'ci <checks> & "more"',
      tests: '4',
      failures: '1',
      skipped: '1',
    });
    const cases = suite.children;
    expect(cases.map((c) => c.attrib.name)).toEqual([
      '1. say hi',
      '2. tolerated',
      "3. breaks <here> & 'now'",
      '4. never reached',
    ]);
    for (const c of cases) expect(Number(c.attrib.time)).toBeGreaterThanOrEqual(0);
    expect(Number(cases[0]!.attrib.time)).toBeGreaterThan(0); // it ran a process
    expect(cases[0]!.children.map((c) => c.tag)).toEqual(['system-out']);
    expect(cases[0]!.children[0]!.text).toContain('hi');
    expect(cases[1]!.children.map((c) => c.tag)).toEqual(['system-err']); // tolerated: not a failure
    const failure = cases[2]!.children.find((c) => c.tag === 'failure')!;
    expect(failure.attrib.message).toContain('exit 3: bad \ufffd <tag> & "q"');
    expect(failure.text).toContain('→ '); // the hint follows the error
    expect(cases[3]!.children.map((c) => c.tag)).toEqual(['skipped']);
  });

  it('a playbook that does not load: a report with one failed case naming the problem', async () => {
    const dir = makeTempDir('god-junit-bad');
    fs.writeFileSync(path.join(dir, 'bad.yaml'), 'name: bad\nsteps:\n  - frobnicate: {}\n');
    const r = await godIn(['play', 'bad.yaml', '--junit', 'r.xml'], { cwd: dir });
    expect(r.code).toBe(2);
    const suite = parseXml(fs.readFileSync(path.join(dir, 'r.xml'), 'utf8')).children[0]!;
    expect(suite.attrib).toMatchObject({ tests: '1', failures: '1' });
    const failure = suite.children[0]!.children[0]!;
    expect(failure.tag).toBe('failure');
    expect(failure.text).toContain('frobnicate');
  });

  it('escapes what XML cannot carry: controls, lone surrogates, U+FFFF', () => {
    const nasty = 'a\x00b\x1b[2J\ud800c\udc00d\uffff & <x> "y" \'z\' \u00e9\ud83c\udfac';
    const xml = junitXml({
      play: nasty,
      file: 'f.yaml',
      dry_run: false,
      ok: true,
      vars: {},
      steps: [
        {
          index: 1,
          name: nasty,
          kind: 'run',
          line: 1,
          status: 'ok',
          changed: false,
          changes: [nasty],
          ms: 5,
        },
      ],
      changed: 0,
      failed_step: null,
      ms: 5,
    });
    const root = parseXml(xml);
    expect(root.attrib.name).toBe('a\ufffdb\ufffd[2J\ufffdc\ufffdd\ufffd & <x> "y" \'z\' \u00e9\ud83c\udfac');
    expect(root.children[0]!.children[0]!.children[0]!.text).toBe(root.attrib.name);
    expect(xmlEscape('<&>"\'')).toBe('&lt;&amp;&gt;&quot;&apos;');
  });
});
