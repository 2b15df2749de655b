// The local supervisor's control socket: one NDJSON request per connection, answered by the events the
// operation emits and then one result (or error) line. `god up/down/restart/status` talk to the daemon here.
import fs from 'node:fs';
import net from 'node:net';
import { z } from 'zod';
import { RoleSchema } from '../../../protocol/redis-contract.ts';
import { isErrorCode, UserError } from '../../../kernel/errors.ts';
import { type EventBus, type EventSink, GodEventSchema, type StampedEvent } from '../events.ts';
import type { LocalFleet } from './fleet.ts';

export const ControlRequestSchema = z.discriminatedUnion('op', [
  z.object({ op: z.literal('ping') }),
  z.object({ op: z.literal('state') }),
  z.object({ op: z.literal('up'), role: RoleSchema.optional(), count: z.number().int().min(0).optional() }),
  z.object({ op: z.literal('down'), role: RoleSchema.optional(), ids: z.array(z.string()).optional() }),
  z.object({ op: z.literal('restart'), role: RoleSchema.optional(), ids: z.array(z.string()).optional() }),
  /** stop every process and Redis, then the daemon exits */
  z.object({ op: z.literal('shutdown') }),
]);
export type ControlRequest = z.infer<typeof ControlRequestSchema>;

type Reply =
  | { event: StampedEvent }
  | { result: unknown }
  | { error: { message: string; hint?: string; code?: string } };

/** Serve `fleet` on `socket`. `bus` is the fleet's event bus: events during a request go to its caller. */
export function serveControl(
  fleet: LocalFleet,
  socket: string,
  bus: EventBus,
  onShutdown: () => void,
): Promise<net.Server> {
  fs.rmSync(socket, { force: true });
  // one operation at a time: two operators scaling at once get a consistent order
  let queue: Promise<unknown> = Promise.resolve();
  const server = net.createServer((conn) => {
    let buf = '';
    conn.setEncoding('utf8');
    conn.on('error', () => {});
    conn.on('data', (d: string) => {
      buf += d;
      const i = buf.indexOf('\n');
      if (i < 0) {
        if (buf.length > 64 * 1024) conn.destroy();
        return;
      }
      const line = buf.slice(0, i);
      buf = '';
      conn.removeAllListeners('data');
      const send = (r: Reply) => {
        if (!conn.destroyed) conn.write(`${JSON.stringify(r)}\n`);
      };
      let req: ControlRequest;
      try {
        req = ControlRequestSchema.parse(JSON.parse(line));
      } catch (err) {
        send({ error: { message: `bad control request: ${(err as Error).message}` } });
        conn.end();
        return;
      }
      const off = bus.on((event) => send({ event }));
      const run = async (): Promise<unknown> => {
        switch (req.op) {
          case 'ping':
            return { pid: process.pid };
          case 'state':
            return fleet.snapshot();
          case 'up':
            if (req.role) await fleet.up(req.role, req.count ?? 1);
            else await fleet.upAll();
            return fleet.snapshot();
          case 'down':
            await fleet.down({ role: req.role, ids: req.ids });
            return fleet.snapshot();
          case 'restart':
            await fleet.restart({ role: req.role, ids: req.ids });
            return fleet.snapshot();
          case 'shutdown':
            await fleet.stop();
            return { stopped: true };
        }
      };
      const p = queue.then(run);
      queue = p.catch(() => {});
      p.then(
        (result) => send({ result }),
        (err: unknown) =>
          send({
            error: {
              message: (err as Error).message,
              hint: err instanceof UserError ? err.hint : undefined,
              code: err instanceof UserError ? err.code : undefined,
            },
          }),
      ).finally(() => {
        off();
        conn.end();
        if (req.op === 'shutdown') onShutdown();
      });
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(socket, () => {
      fs.chmodSync(socket, 0o600);
      resolve(server);
    });
  });
}

/** Send one request; events are forwarded to `events`; resolves with the result, rejects with a UserError. */
export function callControl<T = unknown>(
  socket: string,
  req: ControlRequest,
  events?: EventSink,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const conn = net.connect(socket);
    let buf = '';
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      fn();
    };
    conn.setEncoding('utf8');
    conn.once('connect', () => conn.write(`${JSON.stringify(req)}\n`));
    conn.on('data', (d: string) => {
      buf += d;
      let i = buf.indexOf('\n');
      while (i >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        i = buf.indexOf('\n');
        let r: Reply;
        try {
          r = JSON.parse(line) as Reply;
        } catch {
          continue;
        }
        if ('event' in r) {
          const { at: _at, ...raw } = r.event;
          // the supervisor may be another god's (an older or newer checkout): what we cannot read is named
          const ev = GodEventSchema.safeParse(raw);
          events?.emit(
            ev.success
              ? ev.data
              : {
                  type: 'warn',
                  message: `the local supervisor sent an event this god does not know: ${JSON.stringify(raw).slice(0, 200)}`,
                  hint: 'Run the same checkout for both: `god down`, then `god up`.',
                },
          );
        } else if ('result' in r) finish(() => resolve(r.result as T));
        else if ('error' in r) {
          const e = r.error;
          finish(() =>
            reject(
              new UserError(e.message, { hint: e.hint, code: isErrorCode(e.code) ? e.code : 'GOD_LOCAL' }),
            ),
          );
        }
      }
    });
    conn.on('error', (err) =>
      finish(() =>
        reject(
          new UserError(`cannot reach the local supervisor at ${socket}: ${err.message}`, {
            code: 'GOD_LOCAL_DOWN',
            hint: 'Start the local fleet with `god up` (or `god run` in the foreground).',
          }),
        ),
      ),
    );
    conn.on('close', () =>
      finish(() =>
        reject(
          new UserError('the local supervisor closed the connection without an answer', {
            code: 'GOD_LOCAL',
            hint: 'Look at supervisor.log in the state dir (.god/local by default).',
          }),
        ),
      ),
    );
  });
}
