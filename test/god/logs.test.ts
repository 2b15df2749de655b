// god logs against a real Redis log stream written by the roles' own logger and sink: history filters
// (role, id, host, level, grep, since, limit), the CLI's --json lines, a live tail that filters, bad flags.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LogRecordSchema, parseLogFilter, readLogs } from '../../god/core/logs.ts';
import { connectFleetRedis, type FleetRedis } from '../../god/core/redis.ts';
import { createLogger } from '../../roles/runtime/logger.ts';
import { RedisLogSink } from '../../roles/runtime/log-sink.ts';
import {
  makeTempDir,
  recentOutput,
  spawnTracked,
  useRedis,
  waitForExit,
  waitForLine,
} from '../harness/index.ts';
import { errorOf, GOD_BIN, godIn, resultOf } from './cli-helpers.ts';
import { z } from 'zod';

let redisServer: ReturnType<typeof useRedis>;
let fr: FleetRedis;
let dir: string;

/** A role's logger exactly as the runtime builds it: JSON to (here, nowhere) and the Redis stream. */
function roleLogger(role: string, id: string, host: string) {
  const sink = new RedisLogSink({ redis: fr.redis, stream: fr.keys.logStream, role, id, host, flushMs: 20 });
  const log = createLogger({ role, id, host, level: 'debug', sink, stdout: { write() {} } });
  return { log, sink };
}

describe('god logs', () => {
  redisServer = useRedis();

  beforeAll(async () => {
    dir = makeTempDir('god-logs');
    fr = await connectFleetRedis(redisServer().url, { prefix: 'fg:' });
    // two entries from 20 minutes ago (explicit stream ids), before the live ones
    const old = Date.now() - 20 * 60_000;
    for (const [i, msg] of ['old boot', 'old warning'].entries()) {
      const line = JSON.stringify({
        level: i ? 40 : 30,
        time: new Date(old + i).toISOString(),
        msg,
        role: 'feeder',
      });
      await fr.redis.xadd(
        fr.keys.logStream,
        `${old + i}-0`,
        'role',
        'feeder',
        'id',
        'feeder-1',
        'host',
        'hostA',
        'level',
        i ? 'warn' : 'info',
        'line',
        line,
      );
    }
    const feeder = roleLogger('feeder', 'feeder-1', 'hostA');
    const endpoint = roleLogger('endpoint', 'endpoint-1', 'hostB');
    const keeper = roleLogger('keeper', 'keeper-1', 'hostA');
    feeder.log.info({ tweets: 120 }, 'tweet batch published');
    endpoint.log.debug('client connected');
    endpoint.log.warn({ client: 7 }, 'slow consumer closed');
    keeper.log.error({ err: new Error('S3 refused the upload') }, 'archive upload failed');
    for (const s of [feeder, endpoint, keeper]) {
      await s.sink.drain(2000);
      s.sink.close();
    }
  });
  afterAll(() => fr?.close());

  const msgs = async (q: Parameters<typeof parseLogFilter>[0] & { limit?: number }) =>
    (await readLogs(fr, { ...parseLogFilter(q), limit: q.limit })).map((r) => r.msg);

  describe('logs history', () => {
    it('returns the newest lines oldest first, each as a typed record', async () => {
      const all = await readLogs(fr, {});
      expect(all.map((r) => r.msg)).toEqual([
        'old boot',
        'old warning',
        'tweet batch published',
        'client connected',
        'slow consumer closed',
        'archive upload failed',
      ]);
      for (const r of all) LogRecordSchema.parse(r);
      const err = all.at(-1)!;
      expect(err).toMatchObject({ role: 'keeper', id: 'keeper-1', host: 'hostA', level: 'error' });
      expect((err.data.err as { message: string }).message).toBe('S3 refused the upload');
      expect(all[2]!.data).toEqual({ tweets: 120 });
    });

    it('filters by role, process, host, level, regex, age and count', async () => {
      expect(await msgs({ role: 'endpoint' })).toEqual(['client connected', 'slow consumer closed']);
      expect(await msgs({ role: 'feeder,keeper', level: 'error' })).toEqual(['archive upload failed']);
      expect(await msgs({ id: 'endpoint-1', level: 'info' })).toEqual(['slow consumer closed']);
      expect(await msgs({ host: 'hostB' })).toEqual(['client connected', 'slow consumer closed']);
      expect(await msgs({ level: 'warn' })).toEqual([
        'old warning',
        'slow consumer closed',
        'archive upload failed',
      ]);
      expect(await msgs({ grep: 's3 REFUSED' })).toEqual(['archive upload failed']); // matches fields, any case
      expect(await msgs({ grep: '^tweet' })).toEqual(['tweet batch published']);
      expect(await msgs({ since: '10m' })).toHaveLength(4);
      expect(await msgs({ since: '30m' })).toHaveLength(6);
      expect(await msgs({ limit: 2 })).toEqual(['slow consumer closed', 'archive upload failed']);
    });

    it('refuses bad filters with what to do', () => {
      expect(() => parseLogFilter({ level: 'loud' })).toThrow(/--level loud is not a log level/);
      expect(() => parseLogFilter({ grep: '(' })).toThrow(/not a valid regular expression/);
      expect(() => parseLogFilter({ since: 'yesterday' })).toThrow(/--since yesterday is not a duration/);
    });

    it('a bad --since says what is wrong with it and the forms it takes', () => {
      const why = (since: string) => {
        try {
          parseLogFilter({ since });
        } catch (err) {
          return err;
        }
        throw new Error(`--since ${since} was taken`);
      };
      expect(why('yesterday')).toMatchObject({
        code: 'GOD_USAGE',
        message: '--since yesterday is not a duration: it has no number',
        hint: 'Give a number and a unit (ms, s, m, h or d), e.g. 250ms, 30s, 5m, 1h; a bare number is milliseconds. Lines younger than that are shown.',
      });
      expect(why('2w')).toMatchObject({
        message: '--since 2w is not a duration: "w" is not a unit (ms, s, m, h or d)',
      });
      expect(why('10 minutes')).toMatchObject({ message: expect.stringMatching(/"minutes" is not a unit/) });
      expect(why('-5m')).toMatchObject({ message: expect.stringMatching(/: it is negative; it is an age/) });
      expect(why('1h30m')).toMatchObject({
        message: expect.stringMatching(/: it is not one number followed by a unit$/),
      });
    });
  });

  describe('god logs (CLI)', () => {
    it('prints NDJSON log lines then a result; plain lines otherwise', async () => {
      const env = { GOD_REDIS_URL: redisServer().url };
      const r = await godIn(['logs', '--json', '--role', 'endpoint'], { cwd: dir, env });
      const data = resultOf(r, 'logs', z.object({ count: z.number() }), 'log');
      expect(data.count).toBe(2);
      const logs = r.lines.filter((l) => l.type === 'log').map((l) => LogRecordSchema.parse(l));
      expect(logs.map((l) => l.msg)).toEqual(['client connected', 'slow consumer closed']);
      const plain = await godIn(['logs', '--level', 'error'], { cwd: dir, env });
      expect(plain.stdout).toMatch(
        /^\d\d:\d\d:\d\d\.\d{3} keeper-1@hostA ERROR archive upload failed\n.*Error: S3 refused the upload/,
      );
      const bad = await godIn(['logs', '--json', '--level', 'loud'], { cwd: dir, env });
      expect(bad.code).toBe(2);
      expect(errorOf(bad)).toMatchObject({ code: 'GOD_USAGE', hint: expect.stringMatching(/trace, debug/) });
    });

    it('follows new lines with the same filters (-f), until SIGINT', async () => {
      const child = spawnTracked(
        process.execPath,
        [GOD_BIN, 'logs', '-f', '--json', '--level', 'error', '-n', '1'],
        {
          cwd: dir,
          env: { ...process.env, GOD_REDIS_URL: redisServer().url },
          name: 'god-logs-f',
        },
      );
      await waitForLine(child, /archive upload failed/, 20_000); // the history comes first
      const endpoint = roleLogger('endpoint', 'endpoint-2', 'hostC');
      // the tail may not be blocking in XREAD yet: keep writing until the error line shows up
      let n = 0;
      const writer = setInterval(() => {
        endpoint.log.info({ n }, 'routine line');
        endpoint.log.error({ n: n++ }, 'fresh failure');
      }, 200);
      try {
        const line = await waitForLine(child, /fresh failure/, 20_000);
        expect(LogRecordSchema.parse(JSON.parse(line))).toMatchObject({
          id: 'endpoint-2',
          host: 'hostC',
          level: 'error',
        });
      } finally {
        clearInterval(writer);
        endpoint.sink.close();
      }
      child.kill('SIGINT');
      expect(await waitForExit(child, 10_000)).toBe(true);
      expect(child.exitCode).toBe(0);
      const out = recentOutput(child, 1000);
      expect(out.some((l) => l.includes('fresh failure'))).toBe(true);
      expect(out.filter((l) => l.includes('routine line'))).toEqual([]); // below --level error
      expect(out.filter((l) => l.includes('archive upload failed'))).toHaveLength(1); // history once, not again
    });
  });
});
