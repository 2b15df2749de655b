// Test helpers for the endpoint: a raw line client, an in-process endpoint, and a publisher that writes Redis
// through the contract (as the feeder does).
import fs from 'node:fs';
import { afterAll, beforeAll } from 'vitest';
import net from 'node:net';
import tls from 'node:tls';
import { Redis } from 'ioredis';
import type { RankedMovie, ServerMessage, Tweet } from '../../protocol/messages.ts';
import { parseServerMessage } from '../../protocol/messages.ts';
import { type CatalogMovie, type RedisContract, redisContract } from '../../protocol/redis-contract.ts';
import { queueCatalog, queueRanking, queueTweet } from '../../protocol/redis-writes.ts';
import { type EndpointInstance, endpointRole } from '../../roles/endpoint/role.ts';
import { type RoleHandle, startRole } from '../../roles/runtime/role.ts';
import { type RedisServer, startRedis } from '../harness/index.ts';

let prefixSeq = 0;
let endpointSeq = 0;
/** A fresh key prefix, so tests sharing one redis-server do not see each other's endpoints. */
export const freshPrefix = (tag: string) => `t${process.pid}-${tag}-${++prefixSeq}:`;

export interface StartedEndpoint {
  handle: RoleHandle<unknown>;
  instance: EndpointInstance;
  port: number;
  logs: string[];
  stop(): Promise<void>;
}

/** Start an endpoint in this process on a free port of 127.0.0.1. */
export async function startEndpoint(
  redisUrl: string,
  prefix: string,
  args: string[] = [],
  env: NodeJS.ProcessEnv = {},
): Promise<StartedEndpoint> {
  const logs: string[] = [];
  // endpoints started in one process would all get the default id (role-host-pid)
  const id = args.includes('--id') ? [] : ['--id', `ep-${process.pid}-${++endpointSeq}`];
  // every test client comes from 127.0.0.1: the per-address cap is tested on its own (limits.test.ts)
  const perIp = args.includes('--max-per-ip') ? [] : ['--max-per-ip', '1000000'];
  const handle = await startRole(
    endpointRole,
    ['--redis', redisUrl, '--prefix', prefix, '--host', '127.0.0.1', '--port', '0', ...id, ...perIp, ...args],
    { env, stdout: { write: (s: string) => logs.push(s) } },
  );
  const instance = handle.instance as EndpointInstance;
  let stopped = false;
  return {
    handle: handle as RoleHandle<unknown>,
    instance,
    port: instance.port,
    logs,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await handle.stop('test').catch(() => {});
    },
  };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A line client speaking raw protocol v1, recording every message it gets. */
export class LineClient {
  readonly messages: ServerMessage[] = [];
  readonly raw: string[] = [];
  closed = false;
  readonly closedPromise: Promise<void>;
  private buf = '';
  private waiters: Array<() => void> = [];

  private constructor(readonly socket: net.Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => this.onData(d));
    socket.on('error', () => {});
    this.closedPromise = new Promise((r) =>
      socket.on('close', () => {
        this.closed = true;
        r();
        this.wake();
      }),
    );
  }

  static connect(
    port: number,
    opts: { tls?: boolean; ca?: string; localAddress?: string } = {},
  ): Promise<LineClient> {
    return new Promise((resolve, reject) => {
      const socket = opts.tls
        ? tls.connect({
            host: '127.0.0.1',
            port,
            ca: opts.ca ? fs.readFileSync(opts.ca) : undefined,
            servername: 'localhost',
          })
        : net.connect({ host: '127.0.0.1', port, localAddress: opts.localAddress });
      socket.once(opts.tls ? 'secureConnect' : 'connect', () => resolve(new LineClient(socket)));
      socket.once('error', reject);
    });
  }

  private onData(d: string): void {
    this.buf += d;
    let i = this.buf.indexOf('\n');
    while (i >= 0) {
      const line = this.buf.slice(0, i);
      this.buf = this.buf.slice(i + 1);
      this.raw.push(line);
      const parsed = parseServerMessage(JSON.parse(line));
      if (!parsed.ok) throw new Error(`server sent an invalid message: ${line} (${parsed.message})`);
      this.messages.push(parsed.message);
      i = this.buf.indexOf('\n');
    }
    this.wake();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  send(msg: unknown): void {
    this.socket.write(typeof msg === 'string' ? msg : `${JSON.stringify(msg)}\n`);
  }

  hello(): void {
    this.send({ action: 'connect', params: { client: { app: 'test', version: '1.0' } } });
  }

  /** Wait until `pred` holds over the messages received so far. */
  async until(pred: (msgs: ServerMessage[]) => boolean, ms = 5000, what = 'a condition'): Promise<void> {
    const deadline = Date.now() + ms;
    while (!pred(this.messages)) {
      if (Date.now() > deadline) {
        throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.messages.slice(-5))}`);
      }
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** The first message of `action` after index `from` (waits for it). */
  async next<A extends ServerMessage['action']>(
    action: A,
    from = 0,
    ms = 5000,
  ): Promise<Extract<ServerMessage, { action: A }>> {
    let found: ServerMessage | undefined;
    await this.until(
      (msgs) => (found = msgs.slice(from).find((m) => m.action === action)) !== undefined,
      ms,
      `"${action}"`,
    );
    return found as Extract<ServerMessage, { action: A }>;
  }

  async error(code: string, from = 0, ms = 5000): Promise<Extract<ServerMessage, { action: 'error' }>> {
    let found: ServerMessage | undefined;
    await this.until(
      (msgs) =>
        (found = msgs.slice(from).find((m) => m.action === 'error' && m.params.code === code)) !== undefined,
      ms,
      `error ${code}`,
    );
    return found as Extract<ServerMessage, { action: 'error' }>;
  }

  async waitClosed(ms = 5000): Promise<void> {
    await Promise.race([
      this.closedPromise,
      sleep(ms).then(() => {
        throw new Error(`connection still open after ${ms} ms`);
      }),
    ]);
  }

  tweets(): Extract<ServerMessage, { action: 'post_tweet' }>[] {
    return this.messages.filter((m) => m.action === 'post_tweet') as Extract<
      ServerMessage,
      { action: 'post_tweet' }
    >[];
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Writes what the feeder writes, through the contract. */
export class Publisher {
  readonly redis: Redis;
  readonly keys: RedisContract;
  private seq = 0;

  constructor(url: string, prefix: string) {
    this.redis = new Redis(url, { maxRetriesPerRequest: null, retryStrategy: () => 100 });
    this.redis.on('error', () => {});
    this.keys = redisContract(prefix);
  }

  async catalog(movies: CatalogMovie[]): Promise<void> {
    const p = this.redis.multi();
    queueCatalog(p, this.keys, movies);
    await p.exec();
  }

  async ranking(movies: RankedMovie[]): Promise<void> {
    const p = this.redis.multi();
    queueRanking(p, this.keys, movies);
    await p.exec();
  }

  tweet(text?: string): Tweet {
    const n = ++this.seq;
    return {
      id: String(n),
      text: text ?? `tweet ${n}`,
      created_at: new Date().toISOString(),
      user: { name: 'Test User', screen_name: 'tester' },
    };
  }

  async publish(movieId: number, tweets: Tweet[]): Promise<void> {
    const p = this.redis.pipeline();
    for (const t of tweets) queueTweet(p, this.keys, movieId, t);
    await p.exec();
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}

export const MOVIES: CatalogMovie[] = [
  { id: 1, title: 'Arrival', year: 2016 },
  { id: 2, title: 'Heat', year: 1995 },
  { id: 3, title: 'Alien', year: 1979 },
];

/** A private redis-server for the test file, and cleanups run (newest first) before it stops. */
export function suiteRedis(): { readonly redis: RedisServer; cleanups: Array<() => unknown> } {
  let server: RedisServer | undefined;
  const cleanups: Array<() => unknown> = [];
  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(async () => {
    for (const f of cleanups.reverse()) await f();
    await server?.stop();
  });
  return {
    get redis() {
      if (!server) throw new Error('redis-server is not started yet: use it inside tests and hooks');
      return server;
    },
    cleanups,
  };
}
