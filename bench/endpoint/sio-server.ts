// The peer: a Socket.IO server with @socket.io/redis-adapter, serving the same scenario (one room per movie).
import http from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import { Server } from 'socket.io';

const url = process.env.SIO_REDIS!;
const pub = new Redis(url);
const sub = pub.duplicate();
const httpServer = http.createServer();
const io = new Server(httpServer, {
  transports: ['websocket'],
  perMessageDeflate: false,
  adapter: createAdapter(pub, sub),
});
io.on('connection', (socket) => {
  socket.on('start_feed', (movieId: number, ack?: () => void) => {
    for (const room of socket.rooms) if (room !== socket.id) void socket.leave(room);
    void socket.join(`movie:${movieId}`);
    ack?.();
  });
});
httpServer.maxConnections = 100_000;
httpServer.listen({ host: '127.0.0.1', port: 0, backlog: 4096 }, () => {
  const { port } = httpServer.address() as { port: number };
  process.stdout.write(`${JSON.stringify({ msg: 'listening', port })}\n`);
});

// Event-loop delay every 2 s, as the Filmgrain endpoint reports it in its heartbeat.
const loop = monitorEventLoopDelay({ resolution: 10 });
loop.enable();
setInterval(() => {
  // the monitor records whole 10 ms sampling intervals: take the interval off, leaving the delay
  const ms = (ns: number) => Math.max(0, Math.round(ns / 1e4) / 100 - 10);
  process.stdout.write(
    `${JSON.stringify({ msg: 'loop', loop_delay_p99_ms: ms(loop.percentile(99)), loop_delay_max_ms: ms(loop.max) })}\n`,
  );
  loop.reset();
}, 2000).unref();
// a graceful exit (writes a --cpu-prof profile when asked)
process.on('SIGTERM', () => process.exit(0));
