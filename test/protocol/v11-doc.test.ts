// PROTOCOL.md's 1.1 parts against messages.ts: every example line of a json block is a valid message of its
// direction, every 1.1-only action and param is documented, and the version rules hold as the doc states.
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import {
  compareOffsets,
  isOffset,
  parseClientMessage,
  parseServerMessage,
  ServerParams,
  V1_1_ONLY,
} from '../../protocol/messages.ts';

const doc = readFileSync(new URL('../../protocol/PROTOCOL.md', import.meta.url), 'utf8');

it('every line of every json block is a valid client or server message', () => {
  const blocks = [...doc.matchAll(/```json\n(.*?)\n```/gs)].map((m) => m[1]!);
  const lines = blocks.flatMap((b) => b.split('\n'));
  expect(lines.length).toBeGreaterThanOrEqual(15);
  for (const line of lines) {
    const v = JSON.parse(line) as { action: string };
    const r = Object.hasOwn(ServerParams, v.action) ? parseServerMessage(v) : parseClientMessage(v);
    expect(r.ok, `${line}: ${r.ok ? '' : r.message}`).toBe(true);
  }
  // 1.1's examples are among them
  for (const a of V1_1_ONLY.serverActions)
    expect(
      lines.some((l) => l.includes(`"action":"${a}"`)),
      a,
    ).toBe(true);
});

it('documents each 1.1-only action and param', () => {
  for (const a of V1_1_ONLY.serverActions) expect(doc).toContain(`#### \`${a}\` (1.1)`);
  for (const fields of Object.values(V1_1_ONLY.params))
    for (const f of fields) expect(doc, f).toMatch(new RegExp(`\\| \`${f}\` \\|[^\\n]*1\\.1`));
});

it('a 1.0 connection drops since unread; a 1.1 one checks it', () => {
  const msg = { action: 'start_feed', params: { movie_id: 1, since: 'garbage' } };
  const v10 = parseClientMessage(msg, 0);
  expect(v10.ok && v10.message).toEqual({ action: 'start_feed', params: { movie_id: 1 } });
  const v11 = parseClientMessage(msg, 1);
  expect(!v11.ok && v11.message).toMatch(/^params\.since: /);
});

it('offsets: u64 parts, no leading zeros, ordered by value', () => {
  expect(isOffset('0-0')).toBe(true);
  expect(isOffset('18446744073709551615-18446744073709551615')).toBe(true);
  expect(isOffset('18446744073709551616-0')).toBe(false);
  expect(isOffset('01-0')).toBe(false);
  expect(isOffset('1')).toBe(false);
  expect(compareOffsets('9-0', '10-0')).toBeLessThan(0);
  expect(compareOffsets('10-2', '10-10')).toBeLessThan(0);
  expect(compareOffsets('10-10', '10-10')).toBe(0);
  expect(compareOffsets('1729943980001-0', '1729943980000-5')).toBeGreaterThan(0);
});
