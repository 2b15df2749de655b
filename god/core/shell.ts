// `god ssh`: an interactive shell on a host's PTY, wired to the operator's terminal. The terminal is put in raw
// mode for the session (keys go to the remote shell as typed, Ctrl-C included) and always restored after it:
// on exit, on a dropped connection, on an error, and on God's own exit.
import type { SshConnection } from './ssh/connection.ts';

export interface Tty {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean; isRaw?: boolean; setRawMode?(raw: boolean): unknown };
  stdout: NodeJS.WritableStream & {
    rows?: number;
    columns?: number;
    on(ev: 'resize', fn: () => void): unknown;
  };
}

/** Run a login shell on `conn` until it exits; resolves with its exit status (null if the link dropped). */
export async function interactiveShell(
  conn: SshConnection,
  tty: Tty,
  term = process.env.TERM || 'xterm-256color',
): Promise<number | null> {
  const size = () => ({ rows: tty.stdout.rows || 24, cols: tty.stdout.columns || 80 });
  const ch = await conn.shell({ ...size(), term });
  const wasRaw = !!tty.stdin.isRaw;
  const onResize = () => {
    const s = size();
    ch.setWindow(s.rows, s.cols, 0, 0);
  };
  let restored = false;
  const restore = () => {
    if (restored) return;
    restored = true;
    tty.stdin.unpipe(ch);
    tty.stdout.removeListener('resize', onResize);
    if (tty.stdin.isTTY) tty.stdin.setRawMode?.(wasRaw);
    tty.stdin.pause();
  };
  process.once('exit', restore);
  try {
    tty.stdout.on('resize', onResize);
    if (tty.stdin.isTTY) tty.stdin.setRawMode?.(true);
    tty.stdin.pipe(ch);
    tty.stdin.resume();
    ch.pipe(tty.stdout, { end: false });
    ch.stderr.pipe(tty.stdout, { end: false });
    return await new Promise<number | null>((resolve) => {
      let code: number | null = null;
      ch.on('exit', (c: number | null) => {
        code = c ?? null;
      });
      ch.on('close', () => resolve(code));
    });
  } finally {
    restore();
    process.removeListener('exit', restore);
  }
}
