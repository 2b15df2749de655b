// Load generator process: N clients against one endpoint (Filmgrain via the client SDK, or Socket.IO via
// socket.io-client), each following one of 100 movies; counts deliveries and publish→deliver latency.
import { io, type Socket } from 'socket.io-client';
import { FilmgrainClient } from '../../protocol/client/client.ts';
import { Histogram, nowMs } from './histogram.ts';
import { onMessage, send, tsOfLine } from './ipc.ts';

const kind = process.env.LG_KIND as 'ours' | 'sio';
const host = process.env.LG_HOST ?? '127.0.0.1';
const port = Number(process.env.LG_PORT);
const clients = Number(process.env.LG_CLIENTS);
const movies = Number(process.env.LG_MOVIES ?? 100);
const offset = Number(process.env.LG_OFFSET ?? 0);
const localAddresses = (process.env.LG_LOCAL ?? '127.0.0.1').split(',');
const concurrency = Number(process.env.LG_CONCURRENCY ?? 500);

const hist = new Histogram();
let count = 0;
let counting = false;
let disconnects = 0;

function deliver(ts: number): void {
  if (!counting) return;
  count++;
  if (Number.isFinite(ts)) hist.add(nowMs() - ts);
}

const ours: FilmgrainClient[] = [];
const sios: Socket[] = [];

async function connectOurs(i: number): Promise<boolean> {
  const c = new FilmgrainClient({
    endpoints: [{ host, port, tls: false }],
    app: 'bench',
    version: '1',
    rawTweets: true,
    keepaliveMs: 0,
    connectTimeoutMs: 30_000,
    localAddress: localAddresses[i % localAddresses.length],
    backoff: { initialMs: 500, maxMs: 5000 },
  });
  ours.push(c);
  c.on('tweet_line', (line) => deliver(tsOfLine(line)));
  c.on('disconnected', () => disconnects++);
  c.startFeed(((offset + i) % movies) + 1);
  const ready = new Promise<boolean>((resolve) => {
    const t = setTimeout(() => resolve(false), 60_000);
    c.once('set_movies', () => {
      // the pong comes after start_feed was handled (one connection, in order)
      c.ping(i, 60_000).then(
        () => {
          clearTimeout(t);
          resolve(true);
        },
        () => resolve(false),
      );
    });
  });
  await c.start();
  return ready;
}

function connectSio(i: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = io(`http://${host}:${port}`, {
      transports: ['websocket'],
      forceNew: true,
      reconnection: true,
      timeout: 60_000,
      localAddress: localAddresses[i % localAddresses.length],
    } as Parameters<typeof io>[1]);
    sios.push(s);
    const t = setTimeout(() => resolve(false), 60_000);
    s.on('post_tweet', (p: { tweet: { text: string } }) => deliver(Number(p.tweet.text.slice(3))));
    s.on('disconnect', () => disconnects++);
    s.on('connect', () => {
      s.emit('start_feed', ((offset + i) % movies) + 1, () => {
        clearTimeout(t);
        resolve(true);
      });
    });
  });
}

async function main(): Promise<void> {
  const t0 = Date.now();
  let next = 0;
  let connected = 0;
  let failed = 0;
  const worker = async () => {
    while (next < clients) {
      const i = next++;
      const ok = await (kind === 'ours' ? connectOurs(i) : connectSio(i));
      if (ok) connected++;
      else failed++;
      if ((connected + failed) % 2000 === 0) send({ t: 'progress', connected });
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, clients) }, worker));
  send({ t: 'ready', connected, failed, ms: Date.now() - t0 });
}

onMessage((m) => {
  if (m.t === 'window-start') {
    hist.reset();
    count = 0;
    disconnects = 0;
    counting = true;
  } else if (m.t === 'window-end') {
    counting = false;
    send({ t: 'window', count, hist: hist.toSparse(), disconnects });
  } else if (m.t === 'exit') {
    for (const c of ours) c.close();
    for (const s of sios) s.close();
    setTimeout(() => process.exit(0), 200);
  }
});

void main();
