// Load generator process: N clients against one server, each following one of 100 movies; counts deliveries
// and samples publish→deliver latency. It must cost far less than the server it measures (they share two
// cores), so neither side parses the tweets: a delivery is counted from the line/frame prefix and the publish
// time is scanned out of the bytes of one delivery in LG_SAMPLE.
// Filmgrain: the client SDK (its `onTweetLine` fast path). Socket.IO: a minimal Socket.IO v5 / Engine.IO v4
// client over `ws` (what socket.io-client runs on in Node), doing the handshake, ack, heartbeat and event
// framing itself; LG_SIO_CLIENT=official uses socket.io-client instead (parses every packet).
import { io, type Socket } from 'socket.io-client';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import WebSocket from 'ws';
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
/** one delivery in this many is timed */
const SAMPLE = Math.max(1, Number(process.env.LG_SAMPLE ?? 4));
const officialSio = process.env.LG_SIO_CLIENT === 'official';
const protocol = process.env.LG_PROTOCOL === '1.0' ? '1.0' : '1.1';

const hist = new Histogram();
const loop = monitorEventLoopDelay({ resolution: 10 });
loop.enable();
let count = 0;
let samples = 0;
let counting = false;
let disconnects = 0;
let skip = 0;

/** One delivered tweet: `buf[start, end)` holds its bytes. */
function deliver(buf: Buffer, start: number, end: number): void {
  if (!counting) return;
  count++;
  if (++skip < SAMPLE) return;
  skip = 0;
  const ts = tsOfLine(buf, start, end);
  if (Number.isFinite(ts)) {
    hist.add(nowMs() - ts);
    samples++;
  }
}

const closers: Array<() => void> = [];

async function connectOurs(i: number): Promise<boolean> {
  const c = new FilmgrainClient({
    endpoints: [{ host, port, tls: false }],
    app: 'bench',
    version: '1',
    onTweetLine: deliver,
    protocol,
    keepaliveMs: 0,
    connectTimeoutMs: 30_000,
    localAddress: localAddresses[i % localAddresses.length],
    backoff: { initialMs: 500, maxMs: 5000 },
  });
  closers.push(() => c.close());
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

const SIO_EVENT = Buffer.from('42["post_tweet"');

/** Socket.IO over a bare WebSocket: open → "40" → "40{sid}" → start_feed with ack; answers pings ("2" → "3"). */
function connectSioRaw(i: number): Promise<boolean> {
  return new Promise((resolve) => {
    const movie = ((offset + i) % movies) + 1;
    let done = false;
    const finish = (ok: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(t);
      resolve(ok);
    };
    const t = setTimeout(() => finish(false), 60_000);
    const ws = new WebSocket(`ws://${host}:${port}/socket.io/?EIO=4&transport=websocket`, {
      perMessageDeflate: false,
      skipUTF8Validation: true,
      localAddress: localAddresses[i % localAddresses.length],
    });
    closers.push(() => ws.terminate());
    ws.on('error', () => finish(false));
    ws.on('close', () => {
      disconnects++;
      finish(false);
    });
    ws.on('message', (data: Buffer) => {
      const n = SIO_EVENT.length;
      if (data.length > n && data.compare(SIO_EVENT, 0, n, 0, n) === 0) {
        deliver(data, 0, data.length);
        return;
      }
      const s = data.toString();
      if (s === '2') ws.send('3');
      else if (s.startsWith('0{')) ws.send('40');
      else if (s.startsWith('40')) ws.send(`421["start_feed",${movie}]`);
      else if (s.startsWith('431')) finish(true);
    });
  });
}

function connectSioOfficial(i: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s: Socket = io(`http://${host}:${port}`, {
      transports: ['websocket'],
      forceNew: true,
      reconnection: true,
      timeout: 60_000,
      localAddress: localAddresses[i % localAddresses.length],
    } as Parameters<typeof io>[1]);
    closers.push(() => s.close());
    const t = setTimeout(() => resolve(false), 60_000);
    const scratch = Buffer.alloc(64);
    s.on('post_tweet', (p: { tweet: { text: string } }) => {
      const n = scratch.write(`"text":"${p.tweet.text}"`, 'latin1');
      deliver(scratch, 0, n);
    });
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
  const connect = kind === 'ours' ? connectOurs : officialSio ? connectSioOfficial : connectSioRaw;
  const worker = async () => {
    while (next < clients) {
      const i = next++;
      const ok = await connect(i);
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
    samples = 0;
    disconnects = 0;
    loop.reset();
    counting = true;
  } else if (m.t === 'window-end') {
    counting = false;
    send({
      t: 'window',
      count,
      hist: hist.toSparse(),
      disconnects,
      samples,
      // the monitor records whole 10 ms sampling intervals: take the interval off, leaving the delay
      loopP99: Math.max(0, loop.percentile(99) / 1e6 - 10),
      loopMax: Math.max(0, loop.max / 1e6 - 10),
    });
  } else if (m.t === 'exit') {
    for (const c of closers) c();
    setTimeout(() => process.exit(0), 200);
  }
});

void main();
