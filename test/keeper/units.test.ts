// Pure parts of the keeper: the archive line format, object keys, exception fingerprints, the endpoint list
// builder and option parsing (with its errors).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildEndpointList, endpointSetKey, parseEndpointList } from '../../protocol/endpoint-list.ts';
import type { EndpointRecord } from '../../protocol/redis-contract.ts';
import {
  buildObject,
  decodeArchiveLine,
  encodeArchiveLine,
  objectKey,
  readObject,
  type StreamEntry,
} from '../../protocol/archive-format.ts';
import { fingerprint } from '../../roles/keeper/fingerprint.ts';
import { checkKeeperConfig, keeperOptions } from '../../roles/keeper/options.ts';
import { parseArchiveUrl } from '../../protocol/archive-target.ts';
import { parseConfig } from '../../roles/runtime/config.ts';
import { UserError } from '../../kernel/errors.ts';

const entry = (line: string, id = '1732200000000-7'): StreamEntry => ({
  id,
  role: 'feeder',
  proc: 'f1',
  host: 'h',
  level: 'info',
  line,
});

describe('archive line format', () => {
  it('gives back every original line byte for byte, with its entry id', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.jsonValue().map((v) => JSON.stringify(v)),
          fc.dictionary(fc.string(), fc.jsonValue()).map((o) => JSON.stringify(o)),
        ),
        fc.tuple(fc.nat(), fc.nat()).map(([a, b]) => `${a}-${b}`),
        (line, id) => {
          const enc = encodeArchiveLine(entry(line, id));
          expect(enc).not.toContain('\n');
          expect(decodeArchiveLine(enc)).toEqual({ entryId: id, line });
        },
      ),
    );
  });

  it('keeps JSON log lines plain JSON with entry_id as the first field', () => {
    const enc = encodeArchiveLine(entry('{"level":30,"msg":"hi"}'));
    expect(JSON.parse(enc)).toEqual({ entry_id: '1732200000000-7', level: 30, msg: 'hi' });
    expect(JSON.parse(encodeArchiveLine(entry('{}')))).toEqual({ entry_id: '1732200000000-7' });
    // a log object that looks like our wrapper is still not confused with it
    const tricky = '{"role":"x","id":"y","host":"z","raw":"abc"}';
    expect(decodeArchiveLine(encodeArchiveLine(entry(tricky))).line).toBe(tricky);
  });

  it('names objects by the UTC hour and id of their first entry; objects round-trip through gzip', async () => {
    expect(objectKey('k1', '1795306793327-0')).toBe(
      `logs/${new Date(1795306793327).toISOString().slice(0, 13).replace(/[-T]/g, '/')}/k1-1795306793327-0.ndjson.gz`,
    );
    const entries = ['{"a":1}', 'raw', '{"b":"\\n"}'].map((l, i) => entry(l, `17-${i}`));
    const obj = await buildObject('k1', entries);
    expect(obj.ids).toEqual(['17-0', '17-1', '17-2']);
    expect(await readObject(obj.body)).toEqual(entries.map((e) => ({ entryId: e.id, line: e.line })));
  });
});

describe('exception fingerprint', () => {
  const stack = (msg: string, line: number, dir: string) =>
    `Error: ${msg}\n    at query (${dir}/roles/feeder/db.ts:${line}:13)\n    at async main (${dir}/roles/feeder/main.ts:${line + 5}:3)`;
  it('is the same across numbers in the message, line numbers and install folders', () => {
    const a = fingerprint({
      message: 'timeout after 120ms',
      stack: stack('timeout after 120ms', 10, '/srv/a'),
    });
    const b = fingerprint({
      message: 'timeout after 4500ms',
      stack: stack('timeout after 4500ms', 12, '/opt/b'),
    });
    expect(a).toBe(b);
  });
  it('differs for another message or another call path', () => {
    const a = fingerprint({ message: 'timeout', stack: stack('timeout', 10, '/srv') });
    expect(fingerprint({ message: 'refused', stack: stack('refused', 10, '/srv') })).not.toBe(a);
    expect(
      fingerprint({ message: 'timeout', stack: 'Error: timeout\n    at other (/srv/x.ts:1:1)' }),
    ).not.toBe(a);
  });
});

describe('endpoint list', () => {
  const rec = (
    id: string,
    host: string,
    port: number,
    over: Partial<EndpointRecord> = {},
  ): EndpointRecord => ({
    id,
    host,
    port,
    tls: false,
    clients: 1,
    capacity: 10,
    soft_limit: 8,
    draining: false,
    at: '2026-11-22T00:00:00.000Z',
    ...over,
  });
  it('lists healthy endpoints once per address, sorted, and parses back', () => {
    const list = buildEndpointList(
      [
        rec('b', '10.0.0.2', 80),
        rec('a', '10.0.0.1', 90),
        rec('d', '10.0.0.3', 80, { draining: true }),
        rec('old', '10.0.0.1', 90, { at: '2026-11-21T00:00:00.000Z', clients: 7 }),
      ],
      new Date('2026-11-22T00:00:01Z'),
    );
    expect(list.endpoints.map((e) => `${e.host}:${e.port}:${e.clients}`)).toEqual([
      '10.0.0.1:90:1',
      '10.0.0.2:80:1',
    ]);
    expect(parseEndpointList(JSON.stringify(list))).toEqual(list);
    expect(endpointSetKey(list)).toBe('10.0.0.1:90:p,10.0.0.2:80:p');
    expect(() => parseEndpointList('{"endpoints":[{"host":"x"}]}')).toThrow(/endpoints\.0\.port/);
  });
});

describe('keeper options', () => {
  const parse = (argv: string[], env: NodeJS.ProcessEnv = {}) =>
    parseConfig('keeper', keeperOptions, argv, env, { exitOnHelp: false });
  it('reads flags and env vars, with sizes and durations', () => {
    const c = parse(['--silence', '90s', '--spool-max', '64mb'], {
      FG_KEEPER_ARCHIVE: 's3://logs-bucket/prod',
      FG_KEEPER_BATCH: '500',
    });
    expect(c).toMatchObject({
      archive: 's3://logs-bucket/prod',
      batch: 500,
      silence: 90_000,
      spoolMax: 64 * 1024 ** 2,
    });
    expect(parseArchiveUrl(c.archive)).toEqual({ kind: 's3', bucket: 'logs-bucket', prefix: 'prod' });
    expect(parseArchiveUrl('file:///var/fg/archive')).toEqual({ kind: 'file', dir: '/var/fg/archive' });
  });
  it('rejects bad values naming the flag and the env var', () => {
    expect(() => parse(['--archive', 'ftp://x'])).toThrow(/--archive \/ FG_KEEPER_ARCHIVE.*s3:\/\/BUCKET/);
    expect(() => parse(['--alert-sms', '555-0100'])).toThrow(/--alert-sms \/ FG_KEEPER_ALERT_SMS.*E\.164/);
    expect(() => parse([], { FG_KEEPER_SPOOL_MAX: 'lots' })).toThrow(/FG_KEEPER_SPOOL_MAX.*not a size/);
    expect(() => parseArchiveUrl('s3://Bad_Bucket/x')).toThrow(UserError);
    expect(() => checkKeeperConfig(parse(['--alert-email', 'ops@example.com']))).toThrow(
      expect.objectContaining({ hint: expect.stringMatching(/--email-from/) }),
    );
    expect(() =>
      checkKeeperConfig(parse(['--alert-email', 'a@b.co', '--email-from', 'c@d.co'])),
    ).not.toThrow();
  });
});
