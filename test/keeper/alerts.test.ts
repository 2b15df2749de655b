// Keeper alerts against real redis-server and moto_server (SNS SMS, SES email, read back from
// /moto-api/data.json): silence → one SMS, recovery → one SMS; an exception → one email; 1,000 copies of
// one exception → its email plus one digest; without SNS/SES the alert still reaches the log and God.
import { SESClient, VerifyEmailIdentityCommand } from '@aws-sdk/client-ses';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AlertFieldsSchema, redisContract } from '../../protocol/redis-contract.ts';
import { RedisLogSink } from '../../roles/runtime/log-sink.ts';
import { createLogger } from '../../roles/runtime/logger.ts';
import {
  makeTempDir,
  type Moto,
  type RedisServer,
  sleep,
  startMoto,
  startRedis,
  waitFor,
} from '../harness/index.ts';
import { type InProcessKeeper, startKeeper, xaddLines } from './helpers.ts';

let redis: RedisServer;
let moto: Moto;
let client: Redis;
const keepers: InProcessKeeper[] = [];

beforeAll(async () => {
  [redis, moto] = await Promise.all([startRedis(), startMoto()]);
  client = new Redis(redis.url, { maxRetriesPerRequest: null });
  Object.assign(process.env, moto.env);
  const ses = new SESClient(moto.clientConfig);
  await ses.send(new VerifyEmailIdentityCommand({ EmailAddress: 'god@example.com' }));
  ses.destroy();
});
afterAll(async () => {
  for (const k of keepers) await k.stop().catch(() => {});
  client?.disconnect();
  await Promise.all([redis?.stop(), moto?.stop()]);
});

async function keeper(prefix: string, args: string[]): Promise<InProcessKeeper> {
  const k = await startKeeper([
    '--redis',
    redis.url,
    '--prefix',
    prefix,
    '--id',
    `k-${prefix.replace(/\W/g, '')}`,
    '--archive',
    `file://${makeTempDir('alerts-archive')}`,
    '--flush',
    '200ms',
    '--spool-dir',
    makeTempDir('alerts-spool'),
    ...args,
  ]);
  keepers.push(k);
  return k;
}

async function alertsOf(prefix: string) {
  const entries = await client.xrange(redisContract(prefix).alerts, '-', '+');
  return entries.map(([, f]) =>
    AlertFieldsSchema.parse(
      Object.fromEntries(Array.from({ length: f.length / 2 }, (_, i) => [f[2 * i], f[2 * i + 1]])),
    ),
  );
}

describe('keeper alerts', () => {
  it('silence → one SMS naming who spoke last; logs again → one SMS; no repeats in between', async () => {
    const prefix = 'sil:';
    const keys = redisContract(prefix);
    const phone = '+15555550101';
    const sms = async () => (await moto.sentSms()).filter((s) => s.phone === phone);
    const k = await keeper(prefix, ['--alert-sms', phone, '--silence', '1500ms']);
    // one burst (a stalled test process must not look like silence before the endpoint has spoken)
    await xaddLines(
      client,
      keys,
      { role: 'feeder', id: 'f1', host: 'host-a' },
      Array.from({ length: 5 }, (_, i) => JSON.stringify({ level: 30, i })),
    );
    await xaddLines(client, keys, { role: 'endpoint', id: 'e1', host: 'host-b' }, [
      '{"level":30,"msg":"up"}',
    ]);

    await waitFor(async () => (await sms()).length >= 1, 20_000, 'silence SMS');
    const [first] = await sms();
    expect(first!.message).toMatch(/no logs/i);
    expect(first!.message).toContain('feeder f1 on host-a');
    expect(first!.message).toContain('endpoint e1 on host-b');
    // the keeper itself keeps logging (its alert line, archive objects): that is not "logs flowing"
    await sleep(3500);
    expect(await sms()).toHaveLength(1);

    await xaddLines(client, keys, { role: 'feeder', id: 'f1', host: 'host-a' }, [
      '{"level":30,"msg":"back"}',
    ]);
    await waitFor(async () => (await sms()).length >= 2, 20_000, 'recovery SMS');
    await sleep(1000);
    const all = await sms();
    expect(all).toHaveLength(2);
    expect(all[1]!.message).toMatch(/flowing again/);
    expect(all[1]!.message).toContain('feeder f1 on host-a');

    // also in the alerts stream for God, and in the log stream
    expect((await alertsOf(prefix)).map((a) => [a.kind, a.delivered])).toEqual([
      ['silence', 'sms'],
      ['recovered', 'sms'],
    ]);
    const logged = await client.xrange(keys.logStream, '-', '+');
    expect(
      logged.some(([, f]) => f.includes('keeper') && f.some((v) => v.includes('"alert":{"kind":"silence"'))),
    ).toBe(true);
    await k.stop();
  }, 60_000);

  it('an exception → one email; 1,000 copies of another → its email and one digest with the count', async () => {
    const prefix = 'exc:';
    const keys = redisContract(prefix);
    const to = 'ops@example.com';
    const mails = async () => (await moto.sentEmails()).filter((m) => m.to.includes(to));
    const k = await keeper(prefix, [
      '--alert-email',
      to,
      '--email-from',
      'god@example.com',
      '--exception-window',
      '4s',
    ]);
    const sink = new RedisLogSink({
      redis: client,
      stream: keys.logStream,
      role: 'feeder',
      id: 'f9',
      host: 'host-x',
    });
    const log = createLogger({
      role: 'feeder',
      id: 'f9',
      host: 'host-x',
      level: 'info',
      sink,
      stdout: { write() {} },
    });

    log.error({ err: new Error('boom: cannot parse catalog') }, 'catalog reload failed');
    await sink.drain(5000);
    await waitFor(async () => (await mails()).length >= 1, 20_000, 'exception email');
    const [mail] = await mails();
    expect(mail!.from).toBe('god@example.com');
    expect(mail!.subject).toContain('boom: cannot parse catalog');
    expect(mail!.body).toContain('feeder');
    expect(mail!.body).toContain('host-x');
    expect(mail!.body).toMatch(/\n\s+at /); // the stack

    // a crash loop: the same failure 1,000 times (numbers in the message differ; the fingerprint does not)
    const query = (ms: number) => new Error(`db timeout after ${ms}ms`);
    for (let i = 0; i < 1000; i++) log.error({ err: query(100 + i) }, 'query failed');
    await sink.drain(10_000);
    const dbMails = async () => (await mails()).filter((m) => m.subject.includes('db timeout'));
    await waitFor(async () => (await dbMails()).length >= 2, 30_000, 'exception email and digest');
    await sleep(4500); // another window: nothing more
    const db = await dbMails();
    expect(db).toHaveLength(2);
    expect(db[1]!.subject).toMatch(/999 more times/);
    expect(db[1]!.body).toContain('logged 1000 times in 4s');
    // the single exception got no digest
    expect((await mails()).filter((m) => m.subject.includes('boom'))).toHaveLength(1);
    expect((await alertsOf(prefix)).map((a) => a.kind)).toEqual(['exception', 'exception', 'digest']);
    sink.close();
    await k.stop();
  }, 60_000);

  it('an exception storm: 500 distinct exceptions → the cap of emails plus one digest listing the rest', async () => {
    const prefix = 'storm:';
    const keys = redisContract(prefix);
    const to = 'storm@example.com';
    const mails = async () => (await moto.sentEmails()).filter((m) => m.to.includes(to));
    const k = await keeper(prefix, [
      '--alert-email',
      to,
      '--email-from',
      'god@example.com',
      '--exception-window',
      '4s',
      '--exception-max-emails',
      '10',
    ]);
    const sink = new RedisLogSink({
      redis: client,
      stream: keys.logStream,
      role: 'endpoint',
      id: 'e9',
      host: 'h',
    });
    const log = createLogger({
      role: 'endpoint',
      id: 'e9',
      host: 'h',
      level: 'info',
      sink,
      stdout: { write() {} },
    });
    // distinct fingerprints: numbers are blanked, so the messages differ in letters
    const word = (i: number) =>
      Array.from(String(i).padStart(3, '0'), (d) => 'abcdefghij'[Number(d)]).join('');
    for (let i = 0; i < 500; i++) log.error({ err: new Error(`storm ${word(i)} failed`) }, 'request failed');
    await sink.drain(10_000);
    const storm = async () => (await mails()).filter((m) => m.subject.includes('exception storm'));
    await waitFor(async () => (await storm()).length >= 1, 40_000, 'the storm digest');
    await sleep(4500); // another window: nothing more
    const all = await mails();
    expect(
      all.filter((m) => m.subject.includes('storm ') && !m.subject.includes('exception storm')),
    ).toHaveLength(10);
    expect(all).toHaveLength(11);
    const [digest] = await storm();
    expect(digest!.subject).toContain('490 exceptions over the cap of 10');
    // every fingerprint not emailed is listed, with who logged it
    const listed = digest!.body
      .split('\n')
      .filter((l) => /^- [0-9a-f]{16} ×1 {2}endpoint e9: Error: storm [a-j]{3} failed$/.test(l));
    expect(listed).toHaveLength(490);
    sink.close();
    await k.stop();
  }, 90_000);

  it('without SNS/SES configured, alerts go to the keeper log and the alerts stream only', async () => {
    const prefix = 'nolog:';
    const keys = redisContract(prefix);
    const before = (await moto.sentSms()).length + (await moto.sentEmails()).length;
    const k = await keeper(prefix, ['--silence', '1s']);
    await xaddLines(client, keys, { role: 'endpoint', id: 'e7', host: 'host-q' }, ['{"level":30}']);
    await waitFor(async () => (await alertsOf(prefix)).length >= 1, 15_000, 'silence alert');
    const [a] = await alertsOf(prefix);
    expect(a).toMatchObject({ kind: 'silence', delivered: 'log', keeper: 'k-nolog' });
    expect(
      k.out.some(
        (l) => l.includes('"alert":{"kind":"silence","subject"') && l.includes('endpoint e7 on host-q'),
      ),
    ).toBe(true);
    expect((await moto.sentSms()).length + (await moto.sentEmails()).length).toBe(before);
    await k.stop();
  }, 60_000);
});
