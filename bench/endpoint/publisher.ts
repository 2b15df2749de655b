// Publisher process: tweets at a fixed rate spread over 100 movies, each carrying its publish time.
// Filmgrain: through the Redis contract, as the feeder does. Socket.IO: io.to(room).emit through the Redis adapter.
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import { Server } from 'socket.io';
import { redisContract } from '../../protocol/redis-contract.ts';
import { queueTweet } from '../../protocol/redis-writes.ts';
import { nowMs } from './histogram.ts';
import { onMessage, send } from './ipc.ts';

const kind = process.env.PUB_KIND as 'ours' | 'sio';
const url = process.env.PUB_REDIS!;
let rate = Number(process.env.PUB_RATE ?? 0);
const movies = Number(process.env.PUB_MOVIES ?? 100);
const prefix = process.env.PUB_PREFIX ?? 'fg:';
const TICK_MS = 5;

const redis = new Redis(url);
const keys = redisContract(prefix);
let sio: Server | undefined;
if (kind === 'sio') {
  const sub = redis.duplicate();
  sio = new Server({ adapter: createAdapter(redis, sub) });
}

let timer: NodeJS.Timeout | undefined;
let seq = 0;
let published = 0;
let inWindow = 0;
let debt = 0;
let last = 0;

function tweet() {
  const n = ++seq;
  return {
    id: String(n),
    text: `ts=${nowMs().toFixed(3)}`,
    created_at: new Date().toISOString(),
    user: { name: 'Bench', screen_name: 'bench' },
  };
}

function tick(): void {
  // by elapsed time, not by tick count: a late timer must not lower the rate
  const now = performance.now();
  debt += (rate * (now - last)) / 1000;
  last = now;
  const k = Math.floor(debt);
  debt -= k;
  if (k === 0) return;
  if (kind === 'ours') {
    const p = redis.pipeline();
    for (let i = 0; i < k; i++) queueTweet(p, keys, (seq % movies) + 1, tweet());
    void p.exec();
  } else {
    for (let i = 0; i < k; i++) {
      const movie = (seq % movies) + 1;
      sio!.to(`movie:${movie}`).emit('post_tweet', { movie_id: movie, tweet: tweet() });
    }
  }
  published += k;
  inWindow += k;
}

onMessage((m) => {
  if (m.t === 'window-start') inWindow = 0;
  else if (m.t === 'window-end') send({ t: 'window', count: inWindow, hist: [], disconnects: 0 });
  else if (m.t === 'start') {
    rate = m.rate;
    published = 0;
    last = performance.now();
    timer ??= setInterval(tick, TICK_MS);
  } else if (m.t === 'stop') {
    clearInterval(timer);
    timer = undefined;
    send({ t: 'published', count: published });
  } else if (m.t === 'exit') {
    clearInterval(timer);
    redis.disconnect();
    process.exit(0);
  }
});
