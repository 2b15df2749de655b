// God's audit trail: one record per change (who, when, what, with which arguments, the result) in its own Redis
// stream (protocol/redis-contract.ts `auditStream`, capped), an `audit` event on the bus (the dashboard's
// Alerts pane), and the config's `audit.broadcast` command with the record as JSON on stdin. Storing or
// broadcasting a record never fails or blocks the change it describes: a failure is a warning.
import { spawn } from 'node:child_process';
import { UserError } from '../../kernel/errors.ts';
import { scrubSecrets } from '../../kernel/redact.ts';
import { parseDurationText } from '../../kernel/units.ts';
import { AUDIT_STREAM_MAXLEN } from '../../protocol/redis-contract.ts';
import { type AuditRecord, AuditRecordSchema } from './audit-record.ts';
import { auditActor } from './audit-who.ts';
import type { GodConfig } from './config/schema.ts';
import type { EventSink } from './events.ts';
import type { FleetRedis } from './redis.ts';

export { type AuditRecord, AuditRecordSchema } from './audit-record.ts';

type OptionValue = AuditRecord['options'][string];

/** Options as the record keeps them: secret ones `***`, every string scrubbed, nothing undefined. */
export function auditOptions(
  values: Record<string, unknown>,
  secret: (key: string) => boolean,
): AuditRecord['options'] {
  const out: AuditRecord['options'] = {};
  for (const [k, v] of Object.entries(values)) {
    if (v === undefined) continue;
    if (secret(k)) out[k] = '***';
    else if (typeof v === 'string') out[k] = scrubSecrets(v);
    else if (typeof v === 'number' || typeof v === 'boolean' || v === null) out[k] = v as OptionValue;
    else if (Array.isArray(v)) out[k] = v.map((x) => scrubSecrets(String(x)));
    else out[k] = scrubSecrets(JSON.stringify(v));
  }
  return out;
}

/** The record of one change that ended with `error` (or ok). */
export function auditRecord(o: {
  action: string;
  startedAt: number;
  args: string[];
  options: AuditRecord['options'];
  error?: unknown;
  /** a non-zero exit without an error (a rollout that stopped) */
  exit?: number;
  env?: NodeJS.ProcessEnv;
}): AuditRecord {
  const err = o.error;
  const failed = err !== undefined || (o.exit !== undefined && o.exit !== 0);
  return {
    at: new Date(o.startedAt).toISOString(),
    action: o.action,
    who: auditActor(o.env),
    args: o.args.map(scrubSecrets),
    options: o.options,
    result: {
      ok: !failed,
      code: err instanceof UserError ? err.code : err !== undefined ? 'GOD_INTERNAL' : null,
      message:
        err !== undefined
          ? scrubSecrets((err as Error)?.message ?? String(err))
          : failed
            ? `exit ${o.exit}`
            : null,
    },
    ms: Math.max(0, Date.now() - o.startedAt),
  };
}

/** Append a record to the audit stream; its entry id. */
export async function appendAudit(fleet: FleetRedis, record: AuditRecord): Promise<string> {
  const { id: _id, ...stored } = record;
  const id = await fleet.redis.xadd(
    fleet.keys.auditStream,
    'MAXLEN',
    '~',
    String(AUDIT_STREAM_MAXLEN),
    '*',
    'record',
    JSON.stringify(stored),
  );
  return id!;
}

export interface AuditList {
  records: AuditRecord[];
  /** entries that are not records God wrote (skipped, counted) */
  unreadable: number;
}

/** Records from `sinceMs` on (oldest first), at most `limit` (the newest of them). */
export async function listAudit(
  fleet: FleetRedis,
  o: { sinceMs?: number; limit?: number } = {},
): Promise<AuditList> {
  const limit = o.limit ?? 1000;
  const start = o.sinceMs === undefined ? '-' : String(Math.max(0, Math.floor(o.sinceMs)));
  const raw = (await fleet.redis.xrevrange(fleet.keys.auditStream, '+', start, 'COUNT', limit)).reverse();
  const records: AuditRecord[] = [];
  let unreadable = 0;
  for (const [id, fields] of raw) {
    const i = fields.indexOf('record');
    let parsed: ReturnType<typeof AuditRecordSchema.safeParse> | undefined;
    try {
      parsed = i >= 0 ? AuditRecordSchema.safeParse(JSON.parse(fields[i + 1] ?? '')) : undefined;
    } catch {
      parsed = undefined;
    }
    if (parsed?.success) records.push({ ...parsed.data, id });
    else unreadable++;
  }
  return { records, unreadable };
}

/**
 * Run the config's `audit.broadcast` with the record as JSON on stdin, for at most `audit.broadcast_timeout`
 * (then its process group is killed). Resolves with a problem to warn about, or undefined.
 */
export function broadcastAudit(
  command: string,
  record: AuditRecord,
  o: { timeoutMs: number; cwd: string; env?: NodeJS.ProcessEnv },
): Promise<string | undefined> {
  return new Promise((resolve) => {
    let stderr = '';
    let timedOut = false;
    const child = spawn('/bin/sh', ['-c', command], {
      cwd: o.cwd,
      env: o.env ?? process.env,
      stdio: ['pipe', 'ignore', 'pipe'],
      detached: true, // its own process group: a timeout kills what it started too
    });
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {}
    }, o.timeoutMs);
    child.stderr.on('data', (d: Buffer) => {
      if (stderr.length < 2000) stderr += d.toString('utf8');
    });
    child.stdin.on('error', () => {}); // a script that does not read its stdin
    child.stdin.end(`${JSON.stringify(record)}\n`);
    const tail = () =>
      stderr.trim() ? `: ${scrubSecrets(stderr.trim().split('\n').slice(-3).join(' / '))}` : '';
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve(`could not start it: ${err.message}`);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) resolve(`killed after ${o.timeoutMs} ms (audit.broadcast_timeout)${tail()}`);
      else if (code !== 0) resolve(`exited with ${code ?? signal}${tail()}`);
      else resolve(undefined);
    });
  });
}

/**
 * Record a change: the `audit` event, the stream (when the fleet's Redis is reachable), the broadcast. Never
 * throws. `redis` is how the caller reaches the fleet's Redis (the CLI's shared connection).
 */
export async function recordAudit(
  record: AuditRecord,
  o: {
    redis: () => Promise<FleetRedis>;
    config: GodConfig;
    baseDir: string;
    events: EventSink;
    env?: NodeJS.ProcessEnv;
  },
): Promise<AuditRecord> {
  let stored = record;
  try {
    stored = {
      ...record,
      id: await withTimeout(
        o.redis().then((f) => appendAudit(f, record)),
        5000,
      ),
    };
  } catch (err) {
    // a local fleet taken down whole has no Redis left to hold the record: nothing to warn about
    const gone = err instanceof UserError && err.code === 'GOD_NO_REDIS' && o.config.provider === 'local';
    if (!gone) {
      o.events.emit({
        type: 'warn',
        message: `the audit record of ${record.action} was not stored: ${(err as Error).message}`,
        hint: 'Check that the fleet’s Redis is reachable; `god audit` lists what was stored.',
      });
    }
  }
  o.events.emit({ type: 'audit', record: stored });
  const command = o.config.audit.broadcast;
  if (command) {
    const problem = await broadcastAudit(command, stored, {
      timeoutMs: parseDurationText(o.config.audit.broadcast_timeout) ?? 5000,
      cwd: o.baseDir,
      env: o.env,
    });
    if (problem) {
      o.events.emit({
        type: 'warn',
        message: `audit.broadcast for ${record.action} failed: ${problem}`,
        hint: 'The change itself was made; fix the command in audit.broadcast (it gets the record as JSON on stdin).',
      });
    }
  }
  return stored;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      t = setTimeout(() => reject(new Error(`no answer from Redis in ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(t));
}
