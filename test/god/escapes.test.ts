// Terminal escapes from the log stream never reach the operator's terminal: a role's real logger writes
// entries with ESC sequences, carriage returns, newlines, C1 controls and bidi overrides (in the message,
// fields, id, host) into a real Redis; `god logs` (the real binary) and the dashboard (store + Ink pane) show
// them escaped.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readLogs, safeText } from '../../god/core/logs.ts';
import { connectFleetRedis, type FleetRedis } from '../../god/core/redis.ts';
import { fromRecord, fromStreamEntry } from '../../god/tui/log-line.ts';
import { createLogger } from '../../roles/runtime/logger.ts';
import { RedisLogSink } from '../../roles/runtime/log-sink.ts';
import { makeTempDir, useRedis } from '../harness/index.ts';
import { mount, recordingActions, syntheticStore } from '../tui/fixtures.ts';
import { god } from './cli-helpers.ts';

// what a hostile tweet sample or client string could carry: clear screen, set the window title, a fake
// prompt after a carriage return, a forged log line after a newline, 8-bit CSI, a right-to-left override
const HOSTILE_MSG = 'tweet \x1b[2J\x1b]0;pwned\x07 done\rFAKE\nERROR forged line \x9b31m \u202eevil';
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/;

describe('safeText', () => {
  it('escapes every control character but tab, and bidi overrides', () => {
    expect(safeText('a\x1b[31mred\x1b[0m')).toBe('a\\x1b[31mred\\x1b[0m');
    expect(safeText('one\ntwo\rthree')).toBe('one\\ntwo\\rthree');
    expect(safeText('bell\x07 nul\x00 del\x7f csi\x9b')).toBe('bell\\x07 nul\\x00 del\\x7f csi\\x9b');
    expect(safeText('rtl \u202e x \u2066')).toBe('rtl \\u202e x \\u2066');
    expect(safeText('tab\tkept, “Amélie” 🎬 ok')).toBe('tab\tkept, “Amélie” 🎬 ok');
    for (let c = 0; c < 0xa0; c++) {
      const ch = String.fromCharCode(c);
      if (c !== 9) expect(CONTROL.test(safeText(`x${ch}y`))).toBe(false);
    }
  });
});

describe('log entries with escape sequences', () => {
  const redisServer = useRedis();
  let fr: FleetRedis;
  let dir: string;

  beforeAll(async () => {
    dir = makeTempDir('god-escapes');
    fs.writeFileSync(path.join(dir, 'god.config.yaml'), 'redis:\n  prefix: "esc:"\n');
    fr = await connectFleetRedis(redisServer().url, { prefix: 'esc:' });
    // the role runtime's own logger and sink, as a role writes them; id and host are hostile too
    const sink = new RedisLogSink({
      redis: fr.redis,
      stream: fr.keys.logStream,
      role: 'endpoint',
      id: 'endpoint-1\x1b[8m',
      host: 'web\r\x1b[2K',
      flushMs: 20,
    });
    const log = createLogger({
      role: 'endpoint',
      id: 'endpoint-1\x1b[8m',
      host: 'web\r\x1b[2K',
      level: 'info',
      sink,
      stdout: { write() {} },
    });
    log.warn({ client: 'ua\x1b]8;;http://evil\x07link', n: 3 }, HOSTILE_MSG);
    await sink.drain();
  });
  afterAll(async () => {
    await fr?.close();
  });

  it('the stream really holds the raw control characters (the probe is real)', async () => {
    const [r] = await readLogs(fr, {});
    expect(r!.msg).toContain('\x1b[2J');
    expect(r!.msg).toContain('\x9b');
    expect(r!.id).toContain('\x1b');
  });

  it('`god logs` shows them escaped, plain and --json', async () => {
    const env = { GOD_REDIS_URL: redisServer().url };
    const plain = await god(['logs'], { cwd: dir, env });
    expect(plain.code).toBe(0);
    const line = plain.stdout.split('\n').find((l) => l.includes('tweet'))!;
    // NO_COLOR: not one escape of our own either, so none at all may appear
    expect(CONTROL.test(plain.stdout.replace(/\n/g, ''))).toBe(false);
    expect(plain.stdout.trim().split('\n')).toHaveLength(1); // the forged line stays inside the real one
    expect(line).toContain(
      'tweet \\x1b[2J\\x1b]0;pwned\\x07 done\\rFAKE\\nERROR forged line \\x9b31m \\u202eevil',
    );
    expect(line).toContain('endpoint-1\\x1b[8m@web\\r\\x1b[2K');
    expect(line).toContain('client=ua\\x1b]8;;http://evil\\x07link');

    const json = await god(['logs', '--json'], { cwd: dir, env });
    expect(json.code).toBe(0);
    expect(CONTROL.test(json.stdout.replace(/\n/g, ''))).toBe(false);
    const rec = json.lines.find((l) => l.type === 'log')!;
    // JSON keeps the data exact for programs: escaped on the wire, the same string once parsed
    expect(rec.msg).toBe(HOSTILE_MSG);
  });

  it('the dashboard store and logs pane show them escaped', async () => {
    const records = await readLogs(fr, {});
    const store = syntheticStore();
    for (const r of records) store.pushLine(fromRecord(r));
    // the same entry as the live stream adapter would push it, raw fields and line
    const raw = (await fr.redis.xrange(fr.keys.logStream, '-', '+')) as Array<[string, string[]]>;
    const [id, flat] = raw[0]!;
    const f: Record<string, string> = {};
    for (let i = 0; i + 1 < flat.length; i += 2) f[flat[i]!] = flat[i + 1]!;
    store.pushLine(
      fromStreamEntry({ role: f.role!, id: f.id!, host: f.host!, level: f.level!, line: f.line! }, id),
    );
    store.flush();
    const app = mount(store, recordingActions(store).actions, { columns: 220, rows: 50 });
    try {
      const frame = app.frame();
      const rows = frame.split('\n').filter((l) => l.includes('tweet'));
      expect(rows).toHaveLength(2);
      for (const row of rows) {
        // ink draws its own SGR colors; nothing else from the line: no ESC other than `ESC[...m`
        const stripped = row.replace(/\x1b\[[0-9;]*m/g, '');
        expect(CONTROL.test(stripped)).toBe(false);
        expect(stripped).toContain('\\x1b[2J');
        expect(stripped).toContain('\\x9b31m');
        expect(stripped).toContain('endpoint@web\\r\\x1b'); // the host, cut to the column width
      }
      expect(frame).not.toContain('\x1b]0;pwned');
      expect(frame).not.toContain('\x1b[2J');
    } finally {
      app.unmount();
    }
  });

  it('an alert quoting a log line is shown escaped too', async () => {
    const store = syntheticStore();
    store.pushAlert({ at: Date.now(), kind: 'exception', level: 'error', message: `boom: ${HOSTILE_MSG}` });
    store.flush();
    expect(CONTROL.test(store.alerts.rows[0]!.message)).toBe(false);
    expect(store.alerts.rows[0]!.message).toContain('boom: tweet \\x1b[2J');
  });
});
