// PROTOCOL.md's error section against the code: every error code has a row with the right "closes?" and an
// example line that the client SDK's parser accepts, and the endpoint's deadlines table names every new flag.
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { closesConnection, ErrorCodeSchema, parseServerMessage } from '../../protocol/messages.ts';
import { endpointOptions } from '../../roles/endpoint/options.ts';

const doc = readFileSync(new URL('../../protocol/PROTOCOL.md', import.meta.url), 'utf8');
const codes = ErrorCodeSchema.options;

it('every error code has a row in the errors table, with closesConnection() as its "closes?" column', () => {
  for (const code of codes) {
    const row = new RegExp(`^\\| \`${code}\` \\| ([^|]+) \\|`, 'm').exec(doc);
    expect(row, `row of ${code}`).not.toBeNull();
    expect(row![1]!.trim().startsWith('**yes**'), `closes? of ${code}`).toBe(closesConnection(code));
  }
});

it('the ndjson example block has one valid error line per code', () => {
  const block = /```ndjson\n(.*?)\n```/s.exec(doc);
  expect(block).not.toBeNull();
  const seen = block![1]!.split('\n').map((line) => {
    const r = parseServerMessage(JSON.parse(line));
    expect(r.ok, line).toBe(true);
    if (!r.ok || r.message.action !== 'error') throw new Error(`not an error line: ${line}`);
    return r.message.params.code;
  });
  expect([...seen].sort()).toEqual([...codes].sort());
});

it('the deadlines table names the endpoint flags and their defaults', () => {
  const table = doc.slice(doc.indexOf('## Deadlines and limits of an endpoint'));
  for (const k of [
    'connectTimeout',
    'idleTimeout',
    'rateLimit',
    'rateBurst',
    'maxPerIp',
    'maxQueue',
  ] as const) {
    const o = endpointOptions[k];
    expect(table, k).toContain(`\`${o.flag.split(' ')[0]}\``);
  }
  expect(endpointOptions.connectTimeout.default).toBe('10s');
  expect(endpointOptions.maxPerIp.default).toBe('256');
  expect(table).toMatch(/10 s after the connection opens/);
  expect(table).toMatch(/\| 256 \(`--max-per-ip`\)/);
});
