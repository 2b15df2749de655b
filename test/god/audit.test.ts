// The audit trail (god/core/audit.ts) on a real local fleet (private redis-server, one endpoint, a keeper):
// real `god` commands record who did what with which arguments and how it ended, in the audit stream; a
// secret option is hidden, the CI job is named from its standard variables, a dry run is not a change, the
// config's audit.broadcast gets each record as JSON on stdin, and the keeper archives the stream under audit/.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuditRecord, AuditRecordSchema, broadcastAudit } from '../../god/core/audit.ts';
import { readState } from '../../god/core/local/state.ts';
import { decodeArchiveLine } from '../../protocol/archive-format.ts';
import { makeTempDir, waitFor } from '../harness/index.ts';
import { god, godIn } from './cli-helpers.ts';
import { z } from 'zod';

/** no CI in the environment God sees (the helpers set CI=1; the runner may be a CI itself) */
const NO_CI = { CI: '', GITHUB_ACTIONS: '', GITLAB_CI: '' };

describe('god audit', () => {
  let dir: string;
  const run = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    godIn(args, { cwd: dir, env: { ...NO_CI, ...env } });
  const broadcastFile = () => path.join(dir, 'broadcast.ndjson');
  const broadcasts = () =>
    fs.existsSync(broadcastFile())
      ? fs
          .readFileSync(broadcastFile(), 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => AuditRecordSchema.parse(JSON.parse(l)))
      : [];
  const audit = async (...extra: string[]) => {
    const r = await run(['audit', '--json', ...extra]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const last = r.lines.at(-1)!;
    return z.object({ records: z.array(AuditRecordSchema), unreadable: z.number() }).parse(last.data);
  };

  beforeAll(async () => {
    dir = makeTempDir('god-audit');
    fs.writeFileSync(
      path.join(dir, 'god.config.yaml'),
      `roles:
  feeder:
    count: 0
  endpoint:
    count: 1
  keeper:
    count: 1
    options:
      flush: 300ms
audit:
  broadcast: cat >> broadcast.ndjson
local:
  stop_timeout: 5s
`,
    );
    const up = await god(['up', '--json'], { cwd: dir, env: NO_CI });
    expect(up.code, up.stderr).toBe(0);
  });
  afterAll(async () => {
    await god(['down', '--yes'], { cwd: dir }); // a failed test must not leave the fleet running
  });

  it('records each change with who, what, arguments and result; a dry run is none', async () => {
    const redisUrl = readState(path.join(dir, '.god/local'))!.redis_url;
    expect(redisUrl).toMatch(/:\/\/:[^@]+@/); // the private Redis has a password: the flag below carries it
    const github = {
      GITHUB_ACTIONS: 'true',
      GITHUB_ACTOR: 'octocat',
      GITHUB_RUN_ID: '4242',
      GITHUB_SERVER_URL: 'https://github.example',
      GITHUB_REPOSITORY: 'acme/filmgrain',
    };
    const restart = await run(['restart', 'endpoint', '--redis', redisUrl, '--json'], github);
    expect(restart.code, restart.stdout).toBe(0);
    // the record's event comes before the result, which stays the last line
    expect(restart.lines.at(-1)!.type).toBe('result');
    expect(restart.lines.some((l) => l.type === 'audit')).toBe(true);

    expect((await run(['restart', '--dry-run'])).code).toBe(0);
    const failed = await run(['restart', '--id', 'endpoint-9']);
    expect(failed.code).not.toBe(0);
    const down = await run(['down', 'endpoint', '--yes', '--force'], {
      GITLAB_CI: 'true',
      GITLAB_USER_LOGIN: 'dev',
      CI_JOB_ID: '77',
    });
    expect(down.code, down.stderr).toBe(0);

    const { records } = await audit();
    expect(records.map((r) => r.action)).toEqual(['up', 'restart', 'restart', 'down']);
    const [up, rs, bad, dn] = records as [AuditRecord, AuditRecord, AuditRecord, AuditRecord];
    expect(up.who).toEqual({ user: os.userInfo().username, host: os.hostname(), ci: null });
    expect(up.result).toEqual({ ok: true, code: null, message: null });

    expect(rs.args).toEqual(['endpoint']);
    expect(rs.options.redis).toBe('***');
    expect(JSON.stringify(records)).not.toContain(redisUrl.split('@')[0]!.split(':').at(-1)!);
    expect(rs.who.ci).toEqual({
      system: 'github',
      actor: 'octocat',
      job: '4242',
      url: 'https://github.example/acme/filmgrain/actions/runs/4242',
    });
    expect(rs.result.ok).toBe(true);
    expect(bad.options.id).toBe('endpoint-9');
    expect(bad.result).toMatchObject({ ok: false, code: 'GOD_TARGET' });
    expect(dn).toMatchObject({
      args: ['endpoint'],
      options: { yes: true, force: true },
      result: { ok: true },
    });
    expect(dn.who.ci).toMatchObject({ system: 'gitlab', actor: 'dev', job: '77' });

    // the broadcast got the same records, stream ids included
    expect(broadcasts().map((r) => [r.id, r.action, r.result.ok])).toEqual(
      records.map((r) => [r.id, r.action, r.result.ok]),
    );

    // --since: only the newer ones; the plain table names who and what
    expect((await audit('--since', '1h')).records).toHaveLength(4);
    const plain = await run(['audit']);
    expect(plain.stdout).toMatch(/gitlab dev #77 .*down endpoint\s+ok/);
    expect(plain.stdout).toMatch(/restart\s+failed GOD_TARGET/);

    // the keeper archives the stream under audit/ (its local folder)
    const archive = path.join(dir, '.god/local/archive/audit');
    const archived = async () => {
      if (!fs.existsSync(archive)) return [];
      const files = (fs.readdirSync(archive, { recursive: true }) as string[]).filter((f) =>
        f.endsWith('.gz'),
      );
      return files.flatMap((f) =>
        zlib
          .gunzipSync(fs.readFileSync(path.join(archive, f)))
          .toString()
          .split('\n')
          .filter(Boolean)
          .map((l) => decodeArchiveLine(l)),
      );
    };
    await waitFor(async () => (await archived()).length >= 4, 15_000, 'the audit records archived');
    const ids = (await archived()).map((l) => l.entryId).sort();
    expect(ids).toEqual(records.map((r) => r.id).sort());
    expect(JSON.parse((await archived()).find((l) => l.entryId === rs.id)!.line)).toMatchObject({
      action: 'restart',
      options: { redis: '***' },
    });
  });

  it('a broadcast that hangs is killed after its timeout, one that fails is reported', async () => {
    const rec = AuditRecordSchema.parse({
      at: new Date().toISOString(),
      action: 'up',
      who: { user: 'u', host: 'h', ci: null },
      args: [],
      options: {},
      result: { ok: true, code: null, message: null },
      ms: 1,
    });
    const t0 = Date.now();
    const hung = await broadcastAudit('sleep 30 & wait', rec, { timeoutMs: 300, cwd: dir });
    expect(hung).toMatch(/killed after 300 ms/);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(await broadcastAudit('echo webhook down >&2; exit 3', rec, { timeoutMs: 5000, cwd: dir })).toBe(
      'exited with 3: webhook down',
    );
    expect(
      await broadcastAudit('read line; test -n "$line"', rec, { timeoutMs: 5000, cwd: dir }),
    ).toBeUndefined();
  });
});
