// A local HTTP server that behaves like the Twitter API v2 filtered stream: the rules endpoints (GET, POST
// add/delete), and a stream of `\r\n`-delimited JSON with blank keep-alive lines. Each stream connection
// follows the next step of a script: answer 429 (or another status), or stream lines and then hang up or
// stay open.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type StreamStep =
  | { status: number; body?: unknown }
  | { lines: string[]; after: 'close' | 'stay'; keepAliveMs?: number };

export interface StubRule {
  id: string;
  value: string;
  tag?: string;
}

export interface TwitterStub {
  url: string;
  token: string;
  rules: Map<string, StubRule>;
  /** each stream connection attempt, with the status it got */
  connections: Array<{ at: number; status: number }>;
  /** rule requests: 'GET', 'ADD n', 'DELETE n' */
  ruleRequests: string[];
  script: StreamStep[];
  /** write a line to every open stream */
  push(line: string): void;
  close(): Promise<void>;
}

export async function startTwitterStub(token = 'test-bearer-token'): Promise<TwitterStub> {
  const rules = new Map<string, StubRule>();
  const open = new Set<http.ServerResponse>();
  let nextId = 1000;
  const stub: TwitterStub = {
    url: '',
    token,
    rules,
    connections: [],
    ruleRequests: [],
    script: [],
    push(line) {
      for (const res of open) res.write(`${line}\r\n`);
    },
    async close() {
      for (const res of open) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  const json = (res: http.ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://stub');
    if (req.headers.authorization !== `Bearer ${token}`) {
      json(res, 401, { title: 'Unauthorized', type: 'about:blank', status: 401, detail: 'Unauthorized' });
      return;
    }
    if (url.pathname === '/2/tweets/search/stream/rules') {
      if (req.method === 'GET') {
        stub.ruleRequests.push('GET');
        const data = [...rules.values()];
        json(res, 200, {
          ...(data.length ? { data } : {}),
          meta: { sent: new Date().toISOString(), result_count: data.length },
        });
        return;
      }
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        const b = JSON.parse(body) as {
          add?: Array<{ value: string; tag?: string }>;
          delete?: { ids: string[] };
        };
        if (b.add) {
          stub.ruleRequests.push(`ADD ${b.add.length}`);
          const created = b.add.map((r) => ({ id: String(nextId++), value: r.value, tag: r.tag }));
          for (const r of created) rules.set(r.id, r);
          json(res, 201, {
            data: created,
            meta: {
              sent: new Date().toISOString(),
              summary: { created: created.length, not_created: 0, valid: created.length, invalid: 0 },
            },
          });
        } else if (b.delete) {
          stub.ruleRequests.push(`DELETE ${b.delete.ids.length}`);
          let deleted = 0;
          for (const id of b.delete.ids) if (rules.delete(id)) deleted++;
          json(res, 200, {
            meta: {
              sent: new Date().toISOString(),
              summary: { deleted, not_deleted: b.delete.ids.length - deleted },
            },
          });
        } else json(res, 400, { title: 'Invalid Request' });
      });
      return;
    }
    if (url.pathname === '/2/tweets/search/stream' && req.method === 'GET') {
      const step = stub.script.shift() ?? { lines: [], after: 'stay' as const };
      if ('status' in step) {
        stub.connections.push({ at: Date.now(), status: step.status });
        json(
          res,
          step.status,
          step.body ?? { title: 'Too Many Requests', detail: 'Too Many Requests', status: step.status },
        );
        return;
      }
      stub.connections.push({ at: Date.now(), status: 200 });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('\r\n'); // a keep-alive first, as the API does
      for (const l of step.lines) res.write(`${l}\r\n`);
      if (step.after === 'close') {
        // hang up mid-stream, like a dropped connection
        setTimeout(() => res.destroy(), 50);
        return;
      }
      open.add(res);
      const ka = setInterval(() => res.write('\r\n'), step.keepAliveMs ?? 200);
      res.on('close', () => {
        clearInterval(ka);
        open.delete(res);
      });
      return;
    }
    json(res, 404, { title: 'Not Found' });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  stub.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return stub;
}
