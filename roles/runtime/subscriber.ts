// One Redis subscriber connection per process, shared by everything in it (control messages, movie feeds).
// Channels are reference-counted: SUBSCRIBE on the first handler, UNSUBSCRIBE when the last one leaves.
import type { Redis } from 'ioredis';

export type BufferHandler = (message: Buffer, channel: string) => void;

export class Subscriber {
  private readonly handlers = new Map<string, Set<BufferHandler>>();

  constructor(
    readonly redis: Redis,
    /** a handler threw: reported here, never thrown into ioredis (it would end the process) */
    private readonly onHandlerError: (err: unknown, channel: string) => void = () => {},
  ) {
    // messageBuffer avoids decoding payloads that are written to sockets as-is.
    redis.on('messageBuffer', (channel: Buffer, message: Buffer) => {
      const name = channel.toString();
      const set = this.handlers.get(name);
      if (!set) return;
      // Anyone who can publish reaches these handlers: one that throws must not stop the others or the process.
      for (const h of set) {
        try {
          h(message, name);
        } catch (err) {
          this.onHandlerError(err, name);
        }
      }
    });
  }

  get channelCount(): number {
    return this.handlers.size;
  }

  has(channel: string): boolean {
    return this.handlers.has(channel);
  }

  /** Subscribe; returns the function that removes this handler. */
  on(channel: string, handler: BufferHandler): () => void {
    let set = this.handlers.get(channel);
    if (!set) {
      set = new Set();
      this.handlers.set(channel, set);
      // ioredis queues this while disconnected and resubscribes every channel after a reconnect.
      this.redis.subscribe(channel).catch(() => {});
    }
    set.add(handler);
    return () => this.off(channel, handler);
  }

  off(channel: string, handler: BufferHandler): void {
    const set = this.handlers.get(channel);
    if (!set?.delete(handler) || set.size > 0) return;
    this.handlers.delete(channel);
    this.redis.unsubscribe(channel).catch(() => {});
  }

  async close(): Promise<void> {
    this.handlers.clear();
    this.redis.disconnect();
  }
}
