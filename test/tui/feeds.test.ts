// The dashboard's feeds against a real redis-server: log stream tail, heartbeats joined by God's status
// service, the ranking key, the keeper's alerts stream — seen through `god dashboard` off a TTY, which prints
// the same events as NDJSON (or plain lines).
import fs from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../god/cli/main.ts';
import { sleep } from '../../kernel/sleep.ts';
import { HeadlessPrinter } from '../../god/tui/headless.ts';
import { queueRanking } from '../../protocol/redis-writes.ts';
import { type AlertFields, redisContract } from '../../protocol/redis-contract.ts';
import { HeartbeatPublisher } from '../../roles/runtime/heartbeat.ts';
import { RedisLogSink } from '../../roles/runtime/log-sink.ts';
import { makeTempDir, useRedis, waitFor } from '../harness/index.ts';

function capture() {
  const lines: string[] = [];
  let buf = '';
  return {
    lines,
    writer: {
      write(s: string) {
        buf += s;
        const parts = buf.split('\n');
        buf = parts.pop()!;
        lines.push(...parts);
        return true;
      },
    },
  };
}

describe('god dashboard off a TTY', () => {
  const redisServer = useRedis();

  it('prints log lines, process states, the ranking and alerts as NDJSON from a live Redis', async () => {
    const url = redisServer().url;
    const prefix = 'dash1:';
    const keys = redisContract(prefix);
    const redis = new Redis(url);
    const sink = new RedisLogSink({
      redis,
      stream: keys.logStream,
      role: 'endpoint',
      id: 'endpoint-7',
      host: 'web-7',
    });
    const beat = new HeartbeatPublisher({
      redis,
      keys,
      role: 'endpoint',
      id: 'endpoint-7',
      host: 'web-7',
      version: '9.9.9',
      gauges: () => ({ clients: 12 }),
    });
    await redis.ping();
    // history written before the dashboard starts
    sink.write(
      JSON.stringify({ level: 30, time: new Date().toISOString(), msg: 'before the dashboard', port: 7000 }),
    );
    await sink.drain();
    await beat.beat();

    const out = capture();
    const err = capture();
    const dir = makeTempDir('dash');
    fs.writeFileSync(path.join(dir, 'god.config.yaml'), `redis:\n  prefix: "${prefix}"\n`);
    const done = runCli(
      ['dashboard', '--json', '--duration', '4s', '--redis', url, '--state-dir', path.join(dir, 'state')],
      {
        stdout: out.writer,
        stderr: err.writer,
        env: {},
        cwd: dir,
      },
    );
    // ...and while it runs: a live line, the ranking, an alert
    await waitFor(
      () => out.lines.some((l) => l.includes('before the dashboard')),
      10_000,
      'the history line',
    );
    sink.write(
      JSON.stringify({ level: 50, time: new Date().toISOString(), msg: 'live and failing', code: 'E1' }),
    );
    await sink.drain();
    const p = redis.multi();
    queueRanking(p, keys, [
      { id: 1, title: 'Alien', count: 9 },
      { id: 2, title: 'Heat', count: 4 },
    ]);
    await p.exec();
    const alert: AlertFields = {
      kind: 'silence',
      subject: 'no logs from feeder-1',
      text: 'feeder-1 has been silent for 60 s',
      delivered: 'log',
      keeper: 'keeper-1',
      at: new Date().toISOString(),
    };
    await redis.xadd(keys.alerts, '*', ...Object.entries(alert).flat());
    expect(await done).toBe(0);
    await beat.stop();
    sink.close();
    redis.disconnect();

    const events = out.lines.filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    const logs = events.filter((e) => e.type === 'log');
    expect(logs.map((l) => [l.role, l.id, l.host, l.level, l.msg])).toEqual([
      ['endpoint', 'endpoint-7', 'web-7', 'info', 'before the dashboard port=7000'],
      ['endpoint', 'endpoint-7', 'web-7', 'error', 'live and failing code=E1'],
    ]);
    // not expected by the (empty) local fleet, but alive: reported as unexpected, as `god status` says
    expect(events.find((e) => e.type === 'process')).toMatchObject({
      role: 'endpoint',
      id: 'endpoint-7',
      state: 'unexpected',
      version: '9.9.9',
      clients: 12,
    });
    expect(events.find((e) => e.type === 'ranking')).toMatchObject({
      movies: [
        { id: 1, title: 'Alien', count: 9 },
        { id: 2, title: 'Heat', count: 4 },
      ],
    });
    expect(events.find((e) => e.type === 'alert')).toMatchObject({
      kind: 'silence',
      level: 'error',
      message: 'no logs from feeder-1 — feeder-1 has been silent for 60 s',
    });
  }, 30_000);

  it('names the Redis it cannot reach and what to do', async () => {
    const err = capture();
    const stateDir = makeTempDir('dash-state');
    const code = await runCli(
      ['dashboard', '--duration', '1s', '--redis', 'redis://127.0.0.1:1', '--state-dir', stateDir],
      {
        stdout: capture().writer,
        stderr: err.writer,
        env: {},
        cwd: stateDir,
      },
    );
    expect(code).not.toBe(0);
    expect(err.lines.join('\n')).toMatch(/cannot reach Redis at redis:\/\/127\.0\.0\.1:1[\s\S]*→/);
  });
});

describe('HeadlessPrinter', () => {
  it('prints each log line once, process states on change, the ranking when its order changes', async () => {
    const printed: string[] = [];
    const hp = new HeadlessPrinter({ item: (_t, _d, plain) => printed.push(plain) });
    const s = hp.store;
    s.pushLog(
      { role: 'feeder', id: 'f1', host: 'h', level: 'warn', line: '{"msg":"slow"}' },
      '1700000000000-0',
    );
    s.setProcesses([{ role: 'feeder', id: 'f1', host: 'h', state: 'up', pid: 10 }]);
    s.setRanking([{ id: 1, title: 'Alien', count: 3 }]);
    s.flush();
    s.setProcesses([{ role: 'feeder', id: 'f1', host: 'h', state: 'up', pid: 10 }]); // unchanged: silent
    s.setRanking([{ id: 1, title: 'Alien', count: 4 }]); // same order: silent
    s.flush();
    s.setProcesses([{ role: 'feeder', id: 'f1', host: 'h', state: 'stale' }]);
    s.flush();
    hp.close();
    expect(printed).toEqual([
      '2023-11-14T22:13:20.000Z feeder@h WARN  slow',
      'process f1 (feeder@h) online pid 10',
      'ranking 1. Alien (3)',
      'process f1 (feeder@h) stale',
    ]);
    await sleep(0);
  });

  it('skips what fell out of the buffer in a flood instead of falling behind', () => {
    const printed: string[] = [];
    const hp = new HeadlessPrinter({ item: (t) => printed.push(t) });
    for (let i = 0; i < 12_000; i++) {
      hp.store.pushLog({ role: 'feeder', id: 'f1', host: 'h', level: 'info', line: `{"msg":"${i}"}` });
    }
    hp.close();
    expect(printed.length).toBe(5000);
  });
});
