// `god exec SELECTOR -- COMMAND`: one command on every host a selector names, a few hosts at a time, over the
// same SSH pool as deploy (known_hosts policy, jump host). Each output line is an `output` event; each host's
// end a `host` event of the `exec` step with its exit status. Every host is tried; the result says which failed.
import { StringDecoder } from 'node:string_decoder';
import { z } from 'zod';
import { UserError } from '../../kernel/errors.ts';
import { RoleSchema } from '../../protocol/redis-contract.ts';
import type { DeployHost } from './deploy/types.ts';
import { errorFields, mapLimit } from './deploy/util.ts';
import type { EventSink } from './events.ts';
import type { SshPool } from './ssh/pool.ts';

/** A line longer than this is cut into pieces (a binary dumped to stdout must not grow one line forever). */
const MAX_LINE = 16 * 1024;

export const ExecHostResultSchema = z.object({
  host: z.string(),
  ok: z.boolean(),
  /** exit status; null when the host was not reached or the command died of a signal */
  code: z.number().int().nullable(),
  signal: z.string().nullable(),
  error: z.string().optional(),
  ms: z.number(),
});
export const ExecResultSchema = z.object({
  selector: z.string(),
  command: z.string(),
  ok: z.boolean(),
  hosts: z.array(ExecHostResultSchema),
  ms: z.number(),
});
export type ExecHostResult = z.infer<typeof ExecHostResultSchema>;
export type ExecResult = z.infer<typeof ExecResultSchema>;

/**
 * The hosts a selector names, in inventory order: `all`, a role (the hosts that run it), a host name, a process
 * id (its host), or several of these comma-separated. A word that names nothing is an error before any host
 * is reached.
 */
export function selectHosts(hosts: DeployHost[], selector: string): DeployHost[] {
  const words = selector
    .split(',')
    .map((w) => w.trim())
    .filter(Boolean);
  if (!words.length) {
    throw new UserError('god exec needs a selector', {
      code: 'GOD_USAGE',
      hint: 'e.g. god exec all -- uptime, god exec endpoint -- df -h, god exec HOST -- ls',
    });
  }
  const picked = new Set<DeployHost>();
  const unknown: string[] = [];
  for (const w of words) {
    let matched = false;
    for (const h of hosts) {
      const hit =
        w === 'all' ||
        h.name === w ||
        (RoleSchema.safeParse(w).success && h.processes.some((p) => p.role === w)) ||
        h.processes.some((p) => p.id === w);
      if (hit) {
        picked.add(h);
        matched = true;
      }
    }
    if (!matched) unknown.push(w);
  }
  if (unknown.length) {
    throw new UserError(`${unknown.join(', ')}: no such host, role or process in the fleet`, {
      code: 'GOD_TARGET',
      hint: `Name all, a role (feeder, endpoint, keeper), a host (${hosts.map((h) => h.name).join(', ') || 'none in the inventory'}) or a process id (\`god status\` lists them).`,
    });
  }
  return hosts.filter((h) => picked.has(h));
}

/** Splits a byte stream into lines (UTF-8 safe across chunks), handing each on without its newline. */
export class LineSplitter {
  private readonly dec = new StringDecoder('utf8');
  private buf = '';
  constructor(private readonly onLine: (line: string) => void) {}
  push(d: Buffer): void {
    this.buf += this.dec.write(d);
    let i = this.buf.indexOf('\n');
    while (i >= 0) {
      this.onLine(this.buf.slice(0, i).replace(/\r$/, ''));
      this.buf = this.buf.slice(i + 1);
      i = this.buf.indexOf('\n');
    }
    while (this.buf.length > MAX_LINE) {
      this.onLine(this.buf.slice(0, MAX_LINE));
      this.buf = this.buf.slice(MAX_LINE);
    }
  }
  end(): void {
    this.buf += this.dec.end();
    if (this.buf) this.onLine(this.buf);
    this.buf = '';
  }
}

export interface ExecOptions {
  hosts: DeployHost[];
  pool: SshPool;
  selector: string;
  /** run by the login user's shell on each host, as `ssh host COMMAND` would */
  command: string;
  /** hosts at once */
  concurrency: number;
  events: EventSink;
  signal?: AbortSignal;
}

export async function execOnHosts(o: ExecOptions): Promise<ExecResult> {
  if (!o.command.trim()) {
    throw new UserError('god exec needs a command after --', {
      code: 'GOD_USAGE',
      hint: 'e.g. god exec all -- uptime',
    });
  }
  const targets = selectHosts(o.hosts, o.selector);
  const t0 = Date.now();
  const results = await mapLimit(targets, Math.max(1, o.concurrency), async (h): Promise<ExecHostResult> => {
    const th = Date.now();
    o.events.emit({ type: 'host', step: 'exec', host: h.name, phase: 'start' });
    if (o.signal?.aborted) {
      const error = 'interrupted before it started';
      o.events.emit({ type: 'host', step: 'exec', host: h.name, phase: 'end', ok: false, error, ms: 0 });
      return { host: h.name, ok: false, code: null, signal: null, error, ms: 0 };
    }
    const out = new LineSplitter((line) =>
      o.events.emit({ type: 'output', host: h.name, stream: 'stdout', line }),
    );
    const err = new LineSplitter((line) =>
      o.events.emit({ type: 'output', host: h.name, stream: 'stderr', line }),
    );
    try {
      const conn = await o.pool.get(h);
      const r = await conn.stream(
        o.command,
        { stdout: (d) => out.push(d), stderr: (d) => err.push(d) },
        o.signal,
      );
      out.end();
      err.end();
      const ok = r.code === 0;
      const ms = Date.now() - th;
      const data = { code: r.code, signal: r.signal ?? null };
      const error = ok ? undefined : r.signal ? `killed by ${r.signal}` : `exit ${r.code ?? '?'}`;
      o.events.emit({ type: 'host', step: 'exec', host: h.name, phase: 'end', ok, error, ms, data });
      return { host: h.name, ok, ...data, ...(error ? { error } : {}), ms };
    } catch (e) {
      out.end();
      err.end();
      o.pool.drop(h);
      const { error } = errorFields(e);
      const ms = Date.now() - th;
      o.events.emit({ type: 'host', step: 'exec', host: h.name, phase: 'end', ok: false, error, ms });
      return { host: h.name, ok: false, code: null, signal: null, error, ms };
    }
  });
  return {
    selector: o.selector,
    command: o.command,
    ok: results.every((r) => r.ok),
    hosts: results,
    ms: Date.now() - t0,
  };
}
