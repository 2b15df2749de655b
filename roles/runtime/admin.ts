// The admin HTTP listener of a role (off the client port): /metrics (Prometheus text format), /healthz (alive,
// event loop responsive) and /readyz (can do its job, with the reasons when not). Off unless --admin-listen is
// given; bound anywhere but loopback it needs a token (--admin-token-file or FG_ADMIN_TOKEN), checked as
// `Authorization: Bearer <token>` on every request. Whoever reaches the port may send anything: node:http's
// limits bound headers and slow senders, and no request can throw into the role.
import { timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { UserError } from '../../kernel/errors.ts';
import type { RoleMetrics } from './metrics.ts';

export interface AdminAddress {
  host: string;
  port: number;
}

/** One readiness check: ok, or why not. */
export interface ReadyCheck {
  ok: boolean;
  why?: string;
}
export type ReadyChecks = Record<string, ReadyCheck>;

/** Parse `HOST:PORT` (`[::1]:9100` for IPv6; port 0 picks a free one). */
export function parseAdminListen(text: string): AdminAddress {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text.trim());
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || port > 65535) {
    throw new UserError(`--admin-listen / FG_ADMIN_LISTEN: "${text}" is not HOST:PORT`, {
      code: 'FG_CONFIG',
      hint: 'Give an address and port, e.g. --admin-listen 127.0.0.1:9100 (port 0 picks a free one).',
    });
  }
  return { host: (m[1] ?? m[2])!, port };
}

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (net.isIPv4(host)) return host.startsWith('127.');
  if (net.isIPv6(host)) return host === '::1' || /^::ffff:127\./i.test(host);
  return false;
}

/** The token from FG_ADMIN_TOKEN or the file, never from argv; required off loopback. */
export function resolveAdminToken(
  listen: AdminAddress,
  tokenFile: string | undefined,
  env: NodeJS.ProcessEnv,
): string | undefined {
  let token = env.FG_ADMIN_TOKEN || undefined;
  if (tokenFile) {
    try {
      token = fs.readFileSync(tokenFile, 'utf8').trim();
    } catch (err) {
      throw new UserError(`--admin-token-file: cannot read ${tokenFile}: ${(err as Error).message}`, {
        code: 'FG_ADMIN_TOKEN',
      });
    }
    if (!token) throw new UserError(`--admin-token-file: ${tokenFile} is empty`, { code: 'FG_ADMIN_TOKEN' });
  }
  if (!token && !isLoopback(listen.host)) {
    throw new UserError(
      `--admin-listen ${listen.host}:${listen.port} is not a loopback address and no admin token is set: /metrics and /readyz would be open to the network`,
      { code: 'FG_ADMIN_TOKEN' },
    );
  }
  return token;
}

export interface AdminServerOptions {
  listen: AdminAddress;
  token?: string;
  metrics: RoleMetrics;
  ready: () => ReadyChecks;
  /** how long a client may take to send its headers (default 5 s; slowloris is cut after it) */
  headersTimeoutMs?: number;
  /** failures while serving (never thrown into the role) */
  onError?: (err: unknown) => void;
}

/** A stalled loop: the last tick of the 500 ms timer is this late. */
const LOOP_STALL_MS = 2000;
const TICK_MS = 500;

export class AdminServer {
  private server?: http.Server;
  private tick?: NodeJS.Timeout;
  private lastTick = performance.now();
  private worstLagMs = 0;
  address?: AdminAddress;

  constructor(private readonly o: AdminServerOptions) {}

  async start(): Promise<AdminAddress> {
    const server = http.createServer(
      {
        // a slowloris or a flood of headers is cut by node:http, not by the role
        maxHeaderSize: 8192,
        headersTimeout: this.o.headersTimeoutMs ?? 5000,
        requestTimeout: Math.max(10_000, (this.o.headersTimeoutMs ?? 5000) * 2),
        // how often those timeouts are checked (Node's default, 30 s, would let a slow sender sit far longer)
        connectionsCheckingInterval: Math.min(1000, this.o.headersTimeoutMs ?? 5000),
        keepAliveTimeout: 5000,
      },
      (req, res) => {
        this.handle(req, res).catch((err) => {
          this.o.onError?.(err);
          if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
          res.end('internal error\n');
        });
      },
    );
    server.maxHeadersCount = 50;
    // scrapers and probes need a handful; a connection flood is refused rather than eating the role's fds
    server.maxConnections = 64;
    server.maxRequestsPerSocket = 100;
    server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
      const status =
        err.code === 'HPE_HEADER_OVERFLOW'
          ? '431 Request Header Fields Too Large'
          : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
            ? '408 Request Timeout'
            : '400 Bad Request';
      if (socket.writable) socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\n\r\n`);
      else socket.destroy();
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) =>
        reject(
          new UserError(
            `admin listener: cannot listen on ${this.o.listen.host}:${this.o.listen.port}: ${err.code ?? err.message}`,
            {
              code: 'FG_LISTEN',
              hint: 'Choose another --admin-listen (FG_ADMIN_LISTEN) port, or 0 for a free one.',
            },
          ),
        ),
      );
      server.listen(this.o.listen.port, this.o.listen.host, () => resolve());
    });
    server.on('error', (err) => this.o.onError?.(err));
    this.server = server;
    const a = server.address() as net.AddressInfo;
    this.address = { host: this.o.listen.host, port: a.port };
    this.lastTick = performance.now();
    this.tick = setInterval(() => {
      const now = performance.now();
      this.worstLagMs = Math.max(0, now - this.lastTick - TICK_MS);
      this.lastTick = now;
    }, TICK_MS);
    this.tick.unref();
    return this.address;
  }

  private authorized(req: http.IncomingMessage): boolean {
    const token = this.o.token;
    if (!token) return true;
    const given = Buffer.from(req.headers.authorization ?? '');
    const want = Buffer.from(`Bearer ${token}`);
    return given.length === want.length && timingSafeEqual(given, want);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    // bodies are never read: drop whatever comes so the socket can be reused or closed
    req.resume();
    const path = (req.url ?? '').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    if (!this.authorized(req)) {
      res
        .writeHead(401, { 'www-authenticate': 'Bearer', 'content-type': 'text/plain' })
        .end('unauthorized\n');
      return;
    }
    if (path === '/metrics') {
      const body = await this.o.metrics.text();
      res.writeHead(200, { 'content-type': this.o.metrics.contentType }).end(body);
      return;
    }
    if (path === '/healthz') {
      const lag = Math.max(this.worstLagMs, performance.now() - this.lastTick - TICK_MS);
      const ok = lag < LOOP_STALL_MS;
      json(res, ok ? 200 : 503, {
        status: ok ? 'ok' : 'stalled',
        loop_lag_ms: Math.round(Math.max(0, lag)),
        ...(ok ? {} : { why: `the event loop was ${Math.round(lag)} ms late` }),
      });
      return;
    }
    if (path === '/readyz') {
      let checks: ReadyChecks;
      try {
        checks = this.o.ready();
      } catch (err) {
        checks = { checks: { ok: false, why: `readiness check failed: ${(err as Error).message}` } };
      }
      const ready = Object.values(checks).every((c) => c.ok);
      const why = Object.entries(checks)
        .filter(([, c]) => !c.ok)
        .map(([k, c]) => `${k}: ${c.why ?? 'not ok'}`);
      json(res, ready ? 200 : 503, { ready, ...(ready ? {} : { why }), checks });
      return;
    }
    json(res, 404, { error: 'not found', paths: ['/metrics', '/healthz', '/readyz'] });
  }

  async close(): Promise<void> {
    clearInterval(this.tick);
    const s = this.server;
    if (!s) return;
    this.server = undefined;
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
}

function json(res: http.ServerResponse, status: number, body: object): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(`${JSON.stringify(body)}\n`);
}
