// `--record FILE`: every tweet a source delivered, one JSON line each, exactly as it came (replayable).
import fs from 'node:fs';
import { UserError } from '../../kernel/errors.ts';

export class Recorder {
  private readonly out: fs.WriteStream;
  lines = 0;
  failed?: Error;

  constructor(readonly file: string) {
    try {
      // fail now, with a clear message, rather than on the first tweet
      fs.closeSync(fs.openSync(file, 'a'));
    } catch (err) {
      throw new UserError(
        `cannot write the recording ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`,
        {
          code: 'FG_RECORD',
          hint: 'Pass --record (FG_RECORD) a path in a writable directory.',
        },
      );
    }
    this.out = fs.createWriteStream(file, { flags: 'a' });
    this.out.on('error', (err) => {
      this.failed = err;
    });
  }

  write(line: string): void {
    if (this.failed) return;
    this.out.write(line.endsWith('\n') ? line : `${line}\n`);
    this.lines++;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.out.end(resolve));
  }
}
