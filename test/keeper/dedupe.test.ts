// The keeper's copy filter: a re-sent line (same role, id and lid) is dropped once seen, new lines never are.
import { describe, expect, it } from 'vitest';
import { LineDedupe } from '../../roles/keeper/dedupe.ts';

describe('LineDedupe', () => {
  it('drops a re-sent batch, keeps new lines, gaps and sources apart, and lets malformed ids through', () => {
    const d = new LineDedupe(64, 2);
    for (let q = 0; q < 50; q++) expect(d.isCopy('feeder', 'f1', `b1.${q}`)).toBe(false);
    // a batch re-sent after a failover: 30..49 again, then new lines
    for (let q = 30; q < 50; q++) expect(d.isCopy('feeder', 'f1', `b1.${q}`)).toBe(true);
    expect(d.isCopy('feeder', 'f1', 'b1.50')).toBe(false);
    // a line skipped and arriving later (re-sent, never seen) is new; the same seq of another boot or id too
    expect(d.isCopy('feeder', 'f1', 'b1.60')).toBe(false);
    expect(d.isCopy('feeder', 'f1', 'b1.55')).toBe(false);
    expect(d.isCopy('feeder', 'f1', 'b1.55')).toBe(true);
    expect(d.isCopy('feeder', 'f1', 'b2.10')).toBe(false);
    // older than the window: let through (a rare copy beats a lost line)
    expect(d.isCopy('feeder', 'f1', 'b1.100')).toBe(false);
    expect(d.isCopy('feeder', 'f1', 'b1.0')).toBe(false);
    for (const lid of [undefined, '', 'nodot', '.5', 'b.x', `${'x'.repeat(100)}.1`, 'b.99999999999999999'])
      expect(d.isCopy('feeder', 'f1', lid)).toBe(false);
    expect(d.dropped).toBe(21);
    // bounded: two sources at most
    d.isCopy('endpoint', 'e1', 'b9.0');
    expect(d.size).toBe(2);
  });
});
