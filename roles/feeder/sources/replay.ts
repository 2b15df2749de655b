// `--source replay`: a recorded NDJSON file at the pace it was tweeted (gaps between created_at), `--speed X`
// times faster, or as fast as the feeder takes it (`max`); `--loop` starts over at the end.
import fs from 'node:fs';
import { LineDecoder } from '../../../protocol/ndjson.ts';
import { UserError } from '../../../kernel/errors.ts';
import { createdAtMs } from '../tweet.ts';
import { sleep } from '../../../kernel/sleep.ts';
import type { Source, SourceSink } from './types.ts';

export interface ReplayOptions {
  file: string;
  /** times real pace; Infinity = max */
  speed: number;
  loop: boolean;
  /** longest line accepted (bytes) */
  maxLineBytes?: number;
  onPass?: (pass: number, lines: number) => void;
}

export class ReplaySource implements Source {
  readonly name = 'replay';
  passes = 0;
  lines = 0;

  constructor(private readonly o: ReplayOptions) {
    if (!fs.existsSync(o.file)) {
      throw new UserError(`replay file ${o.file} does not exist`, {
        code: 'FG_REPLAY',
        hint: 'Pass --replay (FG_REPLAY_FILE) a recording made with --record, e.g. data/replay-sample.ndjson.',
      });
    }
  }

  async run(sink: SourceSink, signal: AbortSignal): Promise<void> {
    do {
      await this.pass(sink, signal);
      this.passes++;
      this.o.onPass?.(this.passes, this.lines);
    } while (this.o.loop && !signal.aborted && this.lines > 0);
  }

  private async pass(sink: SourceSink, signal: AbortSignal): Promise<void> {
    const paced = Number.isFinite(this.o.speed);
    const lines: string[] = [];
    const decoder = new LineDecoder({
      maxLineBytes: this.o.maxLineBytes ?? 1 << 20,
      overflow: 'skip',
      onLine: (l) => lines.push(l.toString('utf8')),
      onError: (e) => sink.bad(e.message, `(${e.bytes} bytes)`),
    });
    // pace: tweet i is due at start + (created_i - created_0) / speed
    let firstCreated: number | undefined;
    let startWall = 0;
    const stream = fs.createReadStream(this.o.file, { highWaterMark: 256 * 1024 });
    const deliver = async () => {
      for (const line of lines) {
        if (signal.aborted) return;
        this.lines++;
        if (!paced) {
          sink.line(line);
          continue;
        }
        let obj: unknown;
        try {
          obj = JSON.parse(line);
        } catch (err) {
          sink.bad(`not JSON: ${(err as Error).message}`, line);
          continue;
        }
        const created = createdAtMs(obj);
        if (created !== undefined) {
          if (firstCreated === undefined) {
            firstCreated = created;
            startWall = performance.now();
          }
          const wait = startWall + (created - firstCreated) / this.o.speed - performance.now();
          if (wait > 1) await sleep(wait, signal);
        }
        sink.object(obj, line);
      }
      lines.length = 0;
    };
    try {
      for await (const chunk of stream) {
        decoder.push(chunk as Buffer);
        await deliver();
        if (signal.aborted) return;
        await sink.ready();
      }
      decoder.push('\n'); // a last line without its newline
      await deliver();
    } finally {
      stream.destroy();
    }
  }
}
