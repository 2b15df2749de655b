import { describe, expect, it } from 'vitest';
import {
  byteSize,
  durationMs,
  durationText,
  formatBytes,
  formatDuration,
  parseDurationText,
  parseSizeText,
} from '../../kernel/units.ts';

describe('the duration grammar (flags, env vars, config keys, playbook fields)', () => {
  it('accepts every form the three former copies accepted', () => {
    const forms: Array<[string, number]> = [
      ['250ms', 250],
      ['30s', 30_000],
      ['5m', 300_000],
      ['1h', 3_600_000],
      ['3d', 3 * 86_400_000],
      ['1500', 1500],
      ['1.5s', 1500],
      ['0.5m', 30_000],
      ['10 s', 10_000],
      ['  90s  ', 90_000],
      ['0', 0],
    ];
    for (const [text, ms] of forms) {
      expect(parseDurationText(text), text).toBe(ms);
      expect(durationMs.parse(text), text).toBe(ms);
      expect(durationText.parse(text), text).toBe(text.trim());
    }
    // a number: milliseconds as it is (flags), its text (config/playbook keys written as YAML numbers)
    expect(durationMs.parse(2500)).toBe(2500);
    expect(durationText.parse(30)).toBe('30');
    expect(durationText.parse(1.5)).toBe('1.5');
  });

  it('refuses what is not a duration, saying so with examples', () => {
    for (const bad of ['later', '5 minutes', '1w', '-5s', '', 's', '1e3', '5m30s']) {
      expect(parseDurationText(bad), bad).toBeUndefined();
      const r = durationMs.safeParse(bad);
      expect(r.success, bad).toBe(false);
      expect(r.error?.issues[0]?.message).toBe(`"${bad}" is not a duration (e.g. 250ms, 30s, 5m, 1h)`);
      expect(durationText.safeParse(bad).success, bad).toBe(false);
    }
    expect(durationText.safeParse(-5).success).toBe(false);
  });
});

describe('the size grammar', () => {
  it('reads bytes with binary multiples, any case', () => {
    const forms: Array<[string, number]> = [
      ['512', 512],
      ['512b', 512],
      ['64kb', 64 * 1024],
      ['64k', 64 * 1024],
      ['2MB', 2 * 1024 ** 2],
      ['1.5m', 1.5 * 1024 ** 2],
      ['1gb', 1024 ** 3],
      [' 3 g ', 3 * 1024 ** 3],
    ];
    for (const [text, bytes] of forms) {
      expect(parseSizeText(text), text).toBe(bytes);
      expect(byteSize.parse(text), text).toBe(bytes);
    }
    expect(byteSize.parse(4096)).toBe(4096);
  });

  it('refuses what is not a size', () => {
    for (const bad of ['lots', '1tb', '5 megabytes', '-1k']) {
      expect(parseSizeText(bad), bad).toBeUndefined();
      const r = byteSize.safeParse(bad);
      expect(r.success, bad).toBe(false);
      expect(r.error?.issues[0]?.message).toBe(`"${bad}" is not a size (e.g. 64mb, 1gb, 500kb)`);
    }
  });
});

describe('formatBytes, the one byte formatter', () => {
  it('text style (CLI, deploy progress): binary units with a space', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1023)).toBe('1023 B');
    expect(formatBytes(1024)).toBe('1.0 KiB');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(12 * 1024 ** 2 + 300_000)).toBe('12 MiB');
    expect(formatBytes(3 * 1024 ** 3)).toBe('3.0 GiB');
    expect(formatBytes(5 * 1024 ** 5)).toBe('5120 TiB');
  });

  it("compact style (the dashboard's narrow columns)", () => {
    expect(formatBytes(512, 'compact')).toBe('512B');
    expect(formatBytes(1536, 'compact')).toBe('1.5K');
    expect(formatBytes(12 * 1024 ** 2, 'compact')).toBe('12.0M');
    expect(formatBytes(150 * 1024 ** 2, 'compact')).toBe('150M');
  });

  it('absent or not finite: a dash', () => {
    for (const n of [undefined, null, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(formatBytes(n)).toBe('-');
      expect(formatBytes(n, 'compact')).toBe('-');
    }
  });
});

describe('formatDuration, the one duration formatter (CLI tables, keeper alert texts, dashboard cells)', () => {
  it('text: seconds, minutes with seconds, hours with minutes, then days', () => {
    expect(formatDuration(0)).toBe('0s');
    expect(formatDuration(59_400)).toBe('59s');
    expect(formatDuration(59_600)).toBe('1m00s');
    expect(formatDuration(187_000)).toBe('3m07s');
    expect(formatDuration(3_600_000 + 5 * 60_000)).toBe('1h05m');
    expect(formatDuration(23 * 3_600_000 + 59 * 60_000)).toBe('23h59m');
    expect(formatDuration(76 * 3_600_000)).toBe('3d4h');
  });
  it('compact: whole seconds cut, no trailing unit, hours up to 48', () => {
    expect(formatDuration(59_999, 'compact')).toBe('59s');
    expect(formatDuration(187_900, 'compact')).toBe('3m07');
    expect(formatDuration(47 * 3_600_000 + 60_000, 'compact')).toBe('47h01');
    expect(formatDuration(49 * 3_600_000, 'compact')).toBe('2d1h');
  });
  it('absent, negative or not finite: a dash', () => {
    for (const v of [undefined, null, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(formatDuration(v)).toBe('-');
      expect(formatDuration(v, 'compact')).toBe('-');
    }
  });
});
