// The CLI's rendering: colors only on a TTY (NO_COLOR / FORCE_COLOR honoured), events as readable lines,
// errors as "what went wrong / what to do", NDJSON lines that match the published schemas, aligned tables.
import { describe, expect, it } from 'vitest';
import {
  ErrorLineSchema,
  EventLineSchema,
  Output,
  resultLineSchema,
  table,
  wantColor,
} from '../../god/cli/output.ts';
import { UserError } from '../../kernel/errors.ts';
import { z } from 'zod';

function capture(json: boolean, color: boolean) {
  const out: string[] = [];
  const err: string[] = [];
  const o = new Output({
    json,
    color,
    stdout: { write: (s: string) => out.push(s) },
    stderr: { write: (s: string) => err.push(s) },
  });
  return { o, out, err };
}
const ANSI = /\x1b\[\d+m/;

describe('output', () => {
  it('colors on a TTY only, and never with NO_COLOR', () => {
    expect(wantColor({ isTTY: true }, {})).toBe(true);
    expect(wantColor({ isTTY: false }, {})).toBe(false);
    expect(wantColor({ isTTY: true }, { NO_COLOR: '1' })).toBe(false);
    expect(wantColor({ isTTY: false }, { FORCE_COLOR: '1' })).toBe(true);
    const c = capture(false, true);
    c.o.event({ type: 'process', action: 'exited', role: 'endpoint', id: 'endpoint-1', pid: 12, code: 1 });
    expect(c.err.join('')).toMatch(ANSI);
    const p = capture(false, false);
    p.o.event({ type: 'process', action: 'exited', role: 'endpoint', id: 'endpoint-1', pid: 12, code: 1 });
    expect(p.err.join('')).not.toMatch(ANSI);
  });

  it('renders events as lines on stderr, results on stdout', () => {
    const { o, out, err } = capture(false, false);
    o.event({ type: 'step', step: 'deploy', phase: 'start' });
    o.event({
      type: 'host',
      step: 'upload',
      host: 'edge-1',
      phase: 'progress',
      progress: 0.5,
      detail: 'endpoint.mjs',
    });
    o.event({
      type: 'host',
      step: 'health',
      host: 'edge-2',
      phase: 'end',
      ok: false,
      error: 'no heartbeat',
      ms: 30_000,
    });
    o.event({ type: 'step', step: 'deploy', phase: 'end', ok: true, ms: 1234 });
    o.event({ type: 'warn', message: 'host edge-3 unreachable', hint: 'check the VPN' });
    o.result('status', { n: 1 }, (d) => [`n=${d.n}`]);
    expect(err.join('')).toBe(
      [
        '▸ deploy…',
        '  · edge-1 upload: endpoint.mjs 50%',
        '  ✗ edge-2 health: no heartbeat (30000 ms)',
        '✓ deploy (1234 ms)',
        'warning: host edge-3 unreachable\n  → check the VPN',
        '',
      ].join('\n'),
    );
    expect(out.join('')).toBe('n=1\n');
  });

  it('prints errors as what went wrong and what to do next', () => {
    const { o, err } = capture(false, false);
    o.error(new UserError('cannot reach Redis at redis://h:1', { hint: 'Is the fleet up? Run `god up`.' }));
    expect(err.join('')).toBe(
      'error: cannot reach Redis at redis://h:1\n  → what to do: Is the fleet up? Run `god up`.\n',
    );
    const bug = capture(false, false);
    bug.o.error(new TypeError('x is undefined'));
    expect(bug.err.join('')).toMatch(/error: x is undefined\n {2}→ what to do: This is a bug in God/);
  });

  it('--json: one NDJSON line per event, result and error, matching the schemas', () => {
    const { o, out, err } = capture(true, false);
    o.event({ type: 'machine', action: 'created', id: 'i-1', role: 'endpoint', address: '10.0.0.1' });
    o.item('log', { msg: 'hi' }, 'ignored');
    o.result('endpoints shed', { endpoint: 'e1', clients: 3 }, () => ['ignored']);
    o.error(new UserError('bad', { code: 'GOD_USAGE', hint: 'do this' }));
    expect(err).toEqual([]);
    const lines = out
      .join('')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(4);
    EventLineSchema.parse(lines[0]);
    expect(lines[1]).toEqual({ type: 'log', msg: 'hi' });
    resultLineSchema('endpoints shed', z.object({ endpoint: z.string(), clients: z.number() })).parse(
      lines[2],
    );
    expect(ErrorLineSchema.parse(lines[3])).toMatchObject({
      code: 'GOD_USAGE',
      message: 'bad',
      hint: 'do this',
    });
  });

  it('prints no events while suspended (the dashboard is up), and again after resume', () => {
    for (const json of [false, true]) {
      const { o, out, err } = capture(json, false);
      o.suspend();
      o.event({ type: 'info', message: 'under the dashboard' });
      o.error(new UserError('still shown'));
      o.resume();
      o.event({ type: 'info', message: 'after it' });
      const all = out.join('') + err.join('');
      expect(all).not.toContain('under the dashboard');
      expect(all).toContain('still shown');
      expect(all).toContain('after it');
    }
  });

  it('aligns table columns, not counting color codes', () => {
    const red = '\x1b[31mmissing\x1b[39m';
    expect(
      table(
        [
          ['endpoint-1', red, 'x'],
          ['k', 'up', 'y'],
        ],
        ['ID', 'STATE', 'N'],
      ),
    ).toEqual(['ID          STATE    N', `endpoint-1  ${red}  x`, 'k           up       y']);
  });
});
