import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import {
  ERROR_CODES,
  type ErrorCode,
  exitCodeOf,
  formatUserError,
  isErrorCode,
  UserError,
} from '../../kernel/errors.ts';

const codes = Object.keys(ERROR_CODES) as ErrorCode[];

describe('the table of error codes', () => {
  it('gives every code an exit status and a hint, and names roles FG_* and God GOD_*', () => {
    expect(codes.length).toBeGreaterThan(40);
    for (const code of codes) {
      expect(code).toMatch(/^(FG|GOD)_[A-Z0-9]+(_[A-Z0-9]+)*$/);
      expect([0, 1, 2, 3]).toContain(ERROR_CODES[code].exit);
      expect(ERROR_CODES[code].hint.length, code).toBeGreaterThan(10);
    }
  });

  it("decides god's exit status: usage 2, check failed 3, any other error 1", () => {
    expect(exitCodeOf(new UserError('bad flag', { code: 'GOD_USAGE' }))).toBe(2);
    expect(exitCodeOf(new UserError('bad config', { code: 'GOD_CONFIG' }))).toBe(2);
    expect(exitCodeOf(new UserError('bad playbook', { code: 'GOD_PLAYBOOK' }))).toBe(2);
    expect(ERROR_CODES.GOD_CHECK_FAILED.exit).toBe(3);
    expect(exitCodeOf(new UserError('locked', { code: 'GOD_DEPLOY_LOCKED' }))).toBe(1);
    expect(exitCodeOf(new UserError('no code'))).toBe(1);
    expect(exitCodeOf(new TypeError('a bug'))).toBe(1);
    const usage = codes.filter((c) => ERROR_CODES[c].exit === 2 && c.startsWith('GOD_')).sort();
    expect(usage).toEqual([
      'GOD_CONFIG',
      // a destructive command without --yes where nobody can answer; god exec on the local fleet
      'GOD_CONFIRM',
      'GOD_DEPLOY_BATCH',
      'GOD_DEPLOY_VERSION',
      'GOD_EXEC_LOCAL',
      'GOD_PLAYBOOK',
      'GOD_USAGE',
    ]);
  });

  it("a UserError without a hint gets its code's, one with a hint keeps its own", () => {
    const plain = new UserError('the lock is held', { code: 'GOD_DEPLOY_LOCKED' });
    expect(plain.hint).toBe(ERROR_CODES.GOD_DEPLOY_LOCKED.hint);
    expect(new UserError('x', { code: 'GOD_DEPLOY_LOCKED', hint: 'wait' }).hint).toBe('wait');
    expect(new UserError('x').code).toBe('FG_ERROR');
    expect(formatUserError(plain)).toBe(
      `Error [GOD_DEPLOY_LOCKED]: the lock is held\n  → ${ERROR_CODES.GOD_DEPLOY_LOCKED.hint}`,
    );
  });

  it('tells codes from other strings (codes that arrive over a socket)', () => {
    expect(isErrorCode('GOD_LOCAL_DOWN')).toBe(true);
    expect(isErrorCode('GOD_NOT_A_CODE')).toBe(false);
    expect(isErrorCode('toString')).toBe(false);
    expect(isErrorCode(undefined)).toBe(false);
  });

  it("God throws no FG_* code of its own (God's are GOD_*)", () => {
    // codes God passes on from the roles it runs in-process or through their options (archive URLs)
    const passedOn = new Set(['FG_KEEPER_ARCHIVE', 'FG_CONFIG', 'FG_ERROR']);
    const hits = execFileSync('git', ['grep', '-noE', "code: '(FG|GOD)_[A-Z0-9_]+'", '--', 'god'], {
      encoding: 'utf8',
    })
      .trim()
      .split('\n')
      .map((l) => /'([A-Z0-9_]+)'/.exec(l)![1]!);
    expect(hits.length).toBeGreaterThan(50);
    expect(hits.filter((c) => c.startsWith('FG_') && !passedOn.has(c))).toEqual([]);
    for (const c of hits) expect(isErrorCode(c), c).toBe(true);
  });
});
