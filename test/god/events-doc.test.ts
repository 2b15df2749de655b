// god/EVENTS.md is tested against the schemas: every line of its ndjson blocks parses with God's event union,
// the result/error line schemas or the dashboard's item schema, and every event type has an example there.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ErrorLineSchema, resultLineSchema } from '../../god/cli/output.ts';
import { GOD_EVENT_TYPES, StampedEventSchema } from '../../god/core/events.ts';
import { DashboardItemSchema } from '../../god/tui/headless.ts';

const doc = fs.readFileSync(new URL('../../god/EVENTS.md', import.meta.url), 'utf8');
const blocks = [...doc.matchAll(/```ndjson\n([\s\S]*?)```/g)].map((m) => m[1]!);
const lines = blocks.flatMap((b) => b.split('\n').filter((l) => l.trim()));

/** Which schema a documented line belongs to, by its shape; throws (naming the line) when none takes it. */
function parseLine(text: string, section: 'events' | 'dashboard'): { type: string } {
  const obj = JSON.parse(text) as { type?: unknown; fatal?: unknown; command?: unknown };
  if (obj.type === 'result') return resultLineSchema(String(obj.command), z.unknown()).parse(obj);
  if (obj.type === 'error' && obj.fatal === true) return ErrorLineSchema.parse(obj);
  return section === 'dashboard' ? DashboardItemSchema.parse(obj) : StampedEventSchema.parse(obj);
}

describe('god/EVENTS.md', () => {
  const dashboardAt = doc.indexOf('## `god dashboard` off a terminal');

  it('has examples', () => {
    expect(blocks.length).toBeGreaterThan(3);
    expect(lines.length).toBeGreaterThan(15);
  });

  it('every documented line parses with its schema', () => {
    for (const b of blocks) {
      const section = doc.indexOf(b) > dashboardAt ? 'dashboard' : 'events';
      for (const l of b.split('\n').filter((x) => x.trim())) {
        expect(() => parseLine(l, section), l).not.toThrow();
      }
    }
  });

  it('documents every event type', () => {
    const seen = new Set(
      lines
        .map((l) => StampedEventSchema.safeParse(JSON.parse(l)))
        .flatMap((r) => (r.success ? [r.data.type] : [])),
    );
    expect([...seen].sort()).toEqual([...GOD_EVENT_TYPES].sort());
  });

  it('the schemas refuse what the union does not say (an untyped field, a wrong state)', () => {
    const ok = { type: 'info', message: 'm', at: 'now' };
    expect(StampedEventSchema.safeParse(ok).success).toBe(true);
    expect(StampedEventSchema.safeParse({ ...ok, data: { anything: 1 } }).success).toBe(false);
    expect(StampedEventSchema.safeParse({ ...ok, extra: true }).success).toBe(false);
    const proc = { type: 'process', at: 'now', role: 'feeder', id: 'f1', host: 'h' };
    expect(DashboardItemSchema.safeParse({ ...proc, state: 'up' }).success).toBe(true);
    // the dashboard's old words are gone: one vocabulary with `god status`
    expect(DashboardItemSchema.safeParse({ ...proc, state: 'ok' }).success).toBe(false);
    expect(DashboardItemSchema.safeParse({ ...proc, state: 'extra' }).success).toBe(false);
  });
});
