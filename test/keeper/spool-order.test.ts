// The spool hands objects back in stream order (their first entry id), whatever order they were spooled in:
// two stores that fail together can finish spooling in either order, and a restart reads the folder back.
// Real files in a private folder.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildObject, type StreamEntry } from '../../protocol/archive-format.ts';
import { Spool } from '../../roles/keeper/spool.ts';
import { makeTempDir } from '../harness/index.ts';

const entries = (from: number, n: number): StreamEntry[] =>
  Array.from({ length: n }, (_, i) => ({
    id: `1796283272541-${from + i}`,
    role: 'feeder',
    proc: 'feeder-1',
    host: 'h',
    level: 'info',
    line: `{"msg":"line ${from + i}"}`,
  }));

async function drain(spool: Spool): Promise<string[]> {
  const out: string[] = [];
  for (let o = await spool.peek(); o; o = await spool.peek()) {
    out.push(o.ids[0]!);
    await spool.remove(o.file);
  }
  return out;
}

async function spoolInReverse(): Promise<Spool> {
  const dir = makeTempDir('spool-order');
  fs.rmSync(dir, { recursive: true });
  const spool = new Spool(dir, 1 << 20);
  await spool.init();
  await spool.add(await buildObject('keeper-1', entries(4, 4)));
  await spool.add(await buildObject('keeper-1', entries(0, 4)));
  await spool.add(await buildObject('keeper-1', entries(10, 2)));
  return spool;
}
const STREAM_ORDER = ['1796283272541-0', '1796283272541-4', '1796283272541-10'];

describe('spool order', () => {
  it('an older object spooled after a newer one still comes out first', async () => {
    expect(await drain(await spoolInReverse())).toEqual(STREAM_ORDER);
  });

  it('a restart reads the folder (files named in spooling order) back in stream order', async () => {
    const first = await spoolInReverse();
    const again = new Spool(first.dir, 1 << 20);
    await again.init();
    expect(await drain(again)).toEqual(STREAM_ORDER);
  });
});
