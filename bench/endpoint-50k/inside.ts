// Runs inside the VM that bench/endpoint-50k.sh boots (its own kernel, so no 20k open-files cap): one
// redis-server, one endpoint process (the shipped bundle), generator processes holding C plain-TCP clients
// spread over 100 movies and several 127.0.0.x source addresses. Prints one JSON line between markers:
// RSS of the endpoint before and after the clients, whether every client is live (connect, start_feed and a
// pong answered), and delivery of tweets published to all of them.
//
// KIND=sio runs the same against the peer instead: bench/endpoint/sio-server.ts (Socket.IO +
// @socket.io/redis-adapter), its clients speaking Socket.IO v5 over a bare WebSocket as bench/endpoint/loadgen.ts
// does, tweets emitted to rooms through the adapter.
//
//   node inside.mjs                    orchestrator (env: KIND, C, GEN_PER, RATE, PUB_SECONDS, APP_DIR)
//   node inside.mjs gen <kind> <port> <first> <count> <src-address>     one generator process
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import { Server } from 'socket.io';
import WebSocket from 'ws';
import { redisContract } from '../../protocol/redis-contract.ts';
import { queueCatalog, queueTweet } from '../../protocol/redis-writes.ts';

const MOVIES = 100;
const SELF = process.argv[1]!;
const now = () => performance.timeOrigin + performance.now();

// ---- generator: raw sockets speaking protocol v1, counting post_tweet lines and timing one in 8 ----
function generator(kind: string, port: number, first: number, count: number, local: string): void {
  let ready = 0;
  let failed = 0;
  let delivered = 0;
  const lat: number[] = [];
  let open = 0;
  const PONG = Buffer.from('"pong"');
  const TWEET = Buffer.from('"post_tweet"');
  const TS = Buffer.from('ts=');
  const tweet = (buf: Buffer, start: number, end: number) => {
    delivered++;
    if (delivered % 8 === 0) {
      const t = buf.indexOf(TS, start);
      if (t !== -1 && t < end) lat.push(now() - Number.parseFloat(buf.toString('latin1', t + 3, t + 24)));
    }
  };
  /** a client's connection ended: before it was live it counts as failed, and the next one may start */
  const closed = (wasLive: boolean) => {
    open--;
    if (wasLive) return;
    failed++;
    next();
  };
  const SIO_EVENT = Buffer.from('42["post_tweet"');
  const oneSio = (i: number) => {
    const movie = ((first + i) % MOVIES) + 1;
    let live = false;
    const ws = new WebSocket(`ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket`, {
      perMessageDeflate: false,
      skipUTF8Validation: true,
      localAddress: local,
    });
    ws.on('error', () => {});
    ws.on('close', () => closed(live));
    ws.on('message', (data: Buffer) => {
      const n = SIO_EVENT.length;
      if (data.length > n && data.compare(SIO_EVENT, 0, n, 0, n) === 0) return tweet(data, 0, data.length);
      const m = data.toString();
      if (m === '2') ws.send('3');
      else if (m.startsWith('0{')) ws.send('40');
      else if (m.startsWith('40')) ws.send(`421["start_feed",${movie}]`);
      else if (m.startsWith('431') && !live) {
        live = true;
        ready++;
        next();
      }
    });
    open++;
  };
  const one = (i: number) => {
    if (kind === 'sio') return oneSio(i);
    const s = net.connect({ port, host: '127.0.0.1', localAddress: local });
    let live = false;
    let rest = Buffer.alloc(0);
    s.on('connect', () => {
      const movie = ((first + i) % MOVIES) + 1;
      s.write(
        `{"action":"connect","params":{"client":{"app":"bench50k","version":"1"}}}\n` +
          `{"action":"start_feed","params":{"movie_id":${movie}}}\n{"action":"ping","params":{"id":1}}\n`,
      );
    });
    s.on('data', (chunk: Buffer) => {
      const buf = rest.length ? Buffer.concat([rest, chunk]) : chunk;
      let start = 0;
      for (let nl = buf.indexOf(10); nl !== -1; nl = buf.indexOf(10, start)) {
        const line = buf.subarray(start, nl);
        start = nl + 1;
        if (line.indexOf(TWEET) !== -1) tweet(line, 0, line.length);
        else if (!live && line.indexOf(PONG) !== -1) {
          live = true;
          ready++;
          next();
        }
      }
      rest = start < buf.length ? Buffer.from(buf.subarray(start)) : Buffer.alloc(0);
    });
    s.on('error', () => {});
    s.on('close', () => closed(live));
    open++;
  };
  // a bounded number of handshakes in flight
  let started = 0;
  const next = () => {
    if (started < count) one(started++);
    else if (ready + failed === count) process.send!({ t: 'ready', ready, failed });
  };
  for (let k = 0; k < Math.min(500, count); k++) next();
  process.on('message', (m: { t: string }) => {
    if (m.t === 'reset') {
      delivered = 0;
      lat.length = 0;
    } else if (m.t === 'count') process.send!({ t: 'count', delivered });
    else if (m.t === 'report') process.send!({ t: 'report', delivered, lat, open });
    else if (m.t === 'exit') process.exit(0);
  });
}

// ---- orchestrator ----
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const rssKiB = (pid: number) =>
  Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? Number.NaN);
const fds = (pid: number) => fs.readdirSync(`/proc/${pid}/fd`).length;
const q = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? Number(s[Math.min(s.length - 1, Math.floor(p * s.length))]!.toFixed(1)) : null;
};
function waitFor<T>(c: ChildProcess, t: string): Promise<T> {
  return new Promise((resolve) => {
    const on = (m: { t: string }) => {
      if (m.t !== t) return;
      c.off('message', on);
      resolve(m as T);
    };
    c.on('message', on);
  });
}
function lineFrom(c: ChildProcess, pattern: RegExp): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let buf = '';
    c.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = pattern.exec(buf);
      if (m) resolve(m);
      if (buf.length > 1e6) buf = buf.slice(-1e5);
    });
    c.on('exit', (code) => reject(new Error(`exited (${code}) before ${pattern}: ${buf.slice(-2000)}`)));
  });
}

async function main(): Promise<void> {
  const KIND = process.env.KIND === 'sio' ? 'sio' : 'ours';
  const C = Number(process.env.C ?? 50_000);
  const PER = Number(process.env.GEN_PER ?? 12_500);
  const RATE = Number(process.env.RATE ?? 300);
  const SECONDS = Number(process.env.PUB_SECONDS ?? 10);
  const app = process.env.APP_DIR ?? path.dirname(SELF);
  const out: Record<string, unknown> = {
    kernel: fs.readFileSync('/proc/version', 'utf8').split(' ').slice(0, 3).join(' '),
    cpus: fs
      .readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('processor')).length,
    node: process.versions.node,
    server: KIND === 'sio' ? 'Socket.IO + redis-adapter' : 'Filmgrain endpoint',
    clients: C,
  };
  const kids: ChildProcess[] = [];
  process.on('exit', () => {
    for (const k of kids) k.kill('SIGKILL');
  });

  const redis = spawn(
    'redis-server',
    ['--port', '6390', '--save', '', '--appendonly', 'no', '--maxclients', '1000'],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  kids.push(redis);
  await lineFrom(redis, /Ready to accept connections/);
  const url = 'redis://127.0.0.1:6390';
  const r = new Redis(url);
  const keys = redisContract('fg:');
  const p = r.multi();
  queueCatalog(
    p,
    keys,
    Array.from({ length: MOVIES }, (_, i) => ({ id: i + 1, title: `Movie ${i + 1}` })),
  );
  await p.exec();

  const ep =
    KIND === 'sio'
      ? spawn(process.execPath, [path.join(app, 'sio-server.mjs')], {
          stdio: ['ignore', 'pipe', 'inherit'],
          env: { ...process.env, SIO_REDIS: url },
        })
      : spawn(
          process.execPath,
          [
            path.join(app, 'endpoint.mjs'),
            ...['--redis', url, '--host', '127.0.0.1', '--port', '0'],
            ...['--max-clients', String(C + 1000), '--soft-limit', String(C + 1000), '--idle-timeout', '1h'],
            ...['--max-per-ip', '1000000'],
          ],
          { stdio: ['ignore', 'pipe', 'inherit'] },
        );
  const sio = KIND === 'sio' ? new Server({ adapter: createAdapter(r, r.duplicate()) }) : undefined;
  kids.push(ep);
  const listening = await lineFrom(ep, /\{[^\n]*"msg":"listening"[^\n]*\}/);
  const port = Number(JSON.parse(listening[0]).port);
  await sleep(1000);
  out.endpoint_fd_limit = /Max open files\s+(\d+)/.exec(
    fs.readFileSync(`/proc/${ep.pid}/limits`, 'utf8'),
  )?.[1];
  out.rss_before_mib = +(rssKiB(ep.pid!) / 1024).toFixed(1);

  const t0 = Date.now();
  const gens: ChildProcess[] = [];
  for (let g = 0, first = 0; first < C; g++, first += PER) {
    const n = Math.min(PER, C - first);
    const c = spawn(
      process.execPath,
      [SELF, 'gen', KIND, String(port), String(first), String(n), `127.0.0.${10 + g}`],
      {
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      },
    );
    kids.push(c);
    gens.push(c);
  }
  const progress = setInterval(() => {
    process.stderr.write(
      `[${((Date.now() - t0) / 1000).toFixed(0)} s] server fds ${fds(ep.pid!)}, RSS ${(rssKiB(ep.pid!) / 1024).toFixed(0)} MiB\n`,
    );
  }, 30_000);
  const readies = await Promise.all(gens.map((g) => waitFor<{ ready: number; failed: number }>(g, 'ready')));
  clearInterval(progress);
  out.connect_s = +((Date.now() - t0) / 1000).toFixed(1);
  out.live = readies.reduce((a, m) => a + m.ready, 0);
  out.failed = readies.reduce((a, m) => a + m.failed, 0);
  await sleep(3000); // settle (GC) before reading memory
  out.endpoint_fds = fds(ep.pid!);
  out.rss_mib = +(rssKiB(ep.pid!) / 1024).toFixed(1);
  out.kib_per_conn = +(
    (rssKiB(ep.pid!) - (out.rss_before_mib as number) * 1024) /
    (out.live as number)
  ).toFixed(2);

  // every client gets the tweets of its movie: RATE tweets/s spread over the movies for SECONDS
  for (const g of gens) g.send({ t: 'reset' });
  const total = RATE * SECONDS;
  const tp = Date.now();
  for (let sent = 0, seq = 0; sent < total; ) {
    const due = Math.min(total, Math.floor(((Date.now() - tp) / 1000) * RATE));
    if (due > sent) {
      const pl = r.pipeline();
      for (; sent < due; sent++, seq++) {
        const movie = (seq % MOVIES) + 1;
        const tweet = {
          id: String(seq + 1),
          text: `ts=${now().toFixed(3)}`,
          created_at: new Date().toISOString(),
          user: { name: 'Bench', screen_name: 'bench' },
        };
        if (sio) sio.to(`movie:${movie}`).emit('post_tweet', { movie_id: movie, tweet });
        else queueTweet(pl, keys, movie, tweet);
      }
      await pl.exec();
    }
    await sleep(5);
  }
  const publishS = (Date.now() - tp) / 1000;
  // wait until every delivery is in, or the count stops moving (an emulated guest may be far behind)
  const expected = (total * C) / MOVIES;
  const count = async () =>
    (
      await Promise.all(
        gens.map((g) => {
          const w = waitFor<{ delivered: number }>(g, 'count');
          g.send({ t: 'count' });
          return w;
        }),
      )
    ).reduce((a, m) => a + m.delivered, 0);
  let last = -1;
  let lastChange = Date.now();
  for (let n = await count(); n < expected && Date.now() - lastChange < 10_000; n = await count()) {
    if (n !== last) {
      last = n;
      lastChange = Date.now();
    }
    await sleep(1000);
  }
  const allInS = (Date.now() - tp) / 1000;
  const reports = await Promise.all(
    gens.map((g) => {
      const w = waitFor<{ delivered: number; lat: number[]; open: number }>(g, 'report');
      g.send({ t: 'report' });
      return w;
    }),
  );
  const delivered = reports.reduce((a, m) => a + m.delivered, 0);
  const lat = reports.flatMap((m) => m.lat);
  out.tweets = total;
  out.expected_deliveries = expected;
  out.delivered = delivered;
  out.offered_msg_per_s = Math.round(expected / publishS);
  out.publish_s = +publishS.toFixed(1);
  // publish start → last delivery counted (within 1 s): what the guest sustained end to end
  out.delivered_per_s = Math.round(delivered / allInS);
  out.latency_ms = { p50: q(lat, 0.5), p99: q(lat, 0.99), max: q(lat, 1) };
  out.still_open = reports.reduce((a, m) => a + m.open, 0);
  out.rss_after_delivery_mib = +(rssKiB(ep.pid!) / 1024).toFixed(1);
  r.disconnect();
  process.stdout.write(`\n=== RESULT ===\n${JSON.stringify(out)}\n=== END ===\n`);
  for (const g of gens) g.send({ t: 'exit' });
  process.exit(0);
}

if (process.argv[2] === 'gen') {
  const [kind, port, first, count, local] = process.argv.slice(3);
  generator(kind!, Number(port), Number(first), Number(count), local!);
} else {
  main().catch((err) => {
    process.stdout.write(
      `\n=== RESULT ===\n${JSON.stringify({ error: String(err?.stack ?? err) })}\n=== END ===\n`,
    );
    process.exit(1);
  });
}
