// The watch view's data: the movie being watched through a real endpoint (god/core/watch.ts), where the
// connection stands, and the last tweets with author and delay. Tweets wait for the next flush like log lines.
import type { MovieRef, WatchedTweet, WatchEvent } from '../../core/watch.ts';
import { safeText } from '../../core/logs.ts';
import { Ring } from '../ring.ts';
import type { Changes } from './changes.ts';

export const WATCH_KEPT = 200;

export interface WatchHandle {
  close(): void;
}

export class WatchFeed {
  movie?: MovieRef;
  status = '';
  error?: string;
  endpoint?: string;
  /** tweets received since the view opened */
  count = 0;
  readonly tweets = new Ring<WatchedTweet>(WATCH_KEPT);
  private handle?: WatchHandle;

  constructor(private readonly changes: Changes) {}

  /** A watch of `movie` begins (the connection is being made). */
  open(movie: MovieRef, handle: WatchHandle): void {
    this.close();
    this.movie = movie;
    this.handle = handle;
    this.status = 'connecting…';
    this.error = undefined;
    this.endpoint = undefined;
    this.count = 0;
    this.tweets.clear();
    this.changes.view();
  }

  /** The client's connection ends (Esc). */
  close(): void {
    this.handle?.close();
    this.handle = undefined;
  }

  started(movie: MovieRef): void {
    this.movie = movie;
    this.changes.data();
  }

  event(ev: WatchEvent): void {
    switch (ev.kind) {
      case 'tweet':
        this.count++;
        // tweet texts and names come from the network: terminal-safe like log lines
        this.tweets.push({
          ...ev.tweet,
          author: safeText(ev.tweet.author),
          name: safeText(ev.tweet.name),
          text: safeText(ev.tweet.text.replace(/[\r\n\t]+/g, ' ')),
        });
        break;
      case 'connected':
        this.endpoint = ev.endpoint;
        this.status = `connected to ${ev.endpoint}`;
        break;
      case 'redirect':
        this.status = `redirected to ${ev.to} (${safeText(ev.reason)})`;
        break;
      case 'disconnected':
        this.status = `lost ${ev.endpoint} (${safeText(ev.reason)}), reconnecting…`;
        break;
      case 'feed_started':
        this.status = `${this.endpoint ? `connected to ${this.endpoint} · ` : ''}feed started`;
        break;
    }
    this.changes.data();
  }

  fail(message: string): void {
    this.error = message;
    this.changes.view();
  }

  /** the newest `n` tweets, oldest first */
  last(n: number): WatchedTweet[] {
    const out: WatchedTweet[] = [];
    this.tweets.walkBack(this.tweets.nextSeq - 1, (t) => {
      out.push(t);
      return out.length < n;
    });
    return out.reverse();
  }
}
