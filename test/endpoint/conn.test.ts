// One connection's bookkeeping against a real loopback socket pair: the token bucket, what send()
// counts, and that a closing connection takes no more data. (Kills mutants MUTATION.md listed.)
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Conn, type ConnLimits, type ConnOwner } from '../../roles/endpoint/conn.ts';
import { EndpointStats } from '../../roles/endpoint/stats.ts';

const open: net.Socket[] = [];
const servers: net.Server[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.destroy();
  for (const s of servers.splice(0)) s.close();
});

/** A connected pair on 127.0.0.1: [server side, client side]. */
async function pair(opts: { clientHalfOpen?: boolean } = {}): Promise<[net.Socket, net.Socket]> {
  const server = net.createServer();
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
  const client = net.connect({ port, host: '127.0.0.1', allowHalfOpen: opts.clientHalfOpen ?? false });
  const side = await accepted;
  open.push(side, client);
  return [side, client];
}

function owner(limits: ConnLimits): ConnOwner & { slow: number; detached: number } {
  return {
    stats: new EndpointStats(),
    limits,
    slow: 0,
    detached: 0,
    onSlow() {
      this.slow++;
    },
    onDetach() {
      this.detached++;
    },
  };
}

describe('Conn', () => {
  it('a bucket of `burst` tokens: exactly that many, then none until it refills', async () => {
    const [side] = await pair();
    const o = owner({ maxQueue: 1 << 20, rate: 0, burst: 5 });
    const c = new Conn(side, o, 1000);
    const taken = Array.from({ length: 7 }, () => c.takeToken(1000));
    expect(taken).toEqual([true, true, true, true, true, false, false]);
    // rate 2/s: after 500 ms one token, not two
    const r = new Conn(side, owner({ maxQueue: 1 << 20, rate: 2, burst: 1 }), 0);
    expect([r.takeToken(0), r.takeToken(0)]).toEqual([true, false]);
    expect([r.takeToken(500), r.takeToken(500)]).toEqual([true, false]);
  });

  it('send() counts bytes and messages, and a closing connection takes nothing more', async () => {
    const [side, client] = await pair();
    const o = owner({ maxQueue: 1 << 20, rate: 10, burst: 10 });
    const c = new Conn(side, o, 0);
    const got: Buffer[] = [];
    client.on('data', (b) => got.push(b));
    expect(c.send(Buffer.from('{"a":1}\n'), 3)).toBe(true);
    expect([o.stats.bytesOut, o.stats.msgsOut]).toEqual([8, 3]);
    c.sendError('rate_limited', 'slow down', 'ping');
    c.closeWithError('idle_timeout', 'bye');
    c.closeWithError('idle_timeout', 'twice'); // a second close is a no-op
    expect(c.closing).toBe(true);
    expect(o.detached).toBe(1);
    expect(c.send(Buffer.from('{"late":1}\n'))).toBe(false);
    await new Promise((r) => client.once('end', r));
    const lines = Buffer.concat(got).toString().trim().split('\n');
    expect(lines[0]).toBe('{"a":1}');
    expect(JSON.parse(lines[1]!)).toEqual({
      action: 'error',
      params: { code: 'rate_limited', message: 'slow down', action: 'ping' },
    });
    expect(JSON.parse(lines[2]!)).toEqual({
      action: 'error',
      params: { code: 'idle_timeout', message: 'bye' },
    });
    expect(lines).toHaveLength(3);
  });

  it('a closing connection is destroyed after its grace even if the client never closes its side', async () => {
    // the client keeps its half open: only the grace timer's destroy() ends the server side
    const [side, client] = await pair({ clientHalfOpen: true });
    client.on('data', () => {});
    client.on('end', () => {});
    const c = new Conn(side, owner({ maxQueue: 1 << 20, rate: 10, burst: 10 }), 0);
    const closed = new Promise((r) => side.once('close', r));
    c.closeWith(null, 20);
    await closed;
    expect(side.destroyed).toBe(true);
  });
});
