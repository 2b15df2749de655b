// The peer: a Socket.IO server with @socket.io/redis-adapter, serving the same scenario (one room per movie).
import http from 'node:http';
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
