// Messages between the bench orchestrator and its child processes.
export type ToChild =
  | { t: 'window-start' }
  | { t: 'window-end' }
  | { t: 'start'; rate: number }
  | { t: 'stop' }
  | { t: 'exit' };
export type FromChild =
  | { t: 'ready'; connected: number; failed: number; ms: number }
  | {
      t: 'window';
      count: number;
      hist: Array<[number, number]>;
      disconnects: number;
      /** deliveries timed (one in LG_SAMPLE) */
      samples?: number;
      /** the generator's own event-loop delay in the window (ms): latency it added itself */
      loopP99?: number;
      loopMax?: number;
    }
  | { t: 'published'; count: number }
  | { t: 'progress'; connected: number };

export function send(msg: FromChild): void {
  process.send?.(msg);
}

export function onMessage(h: (m: ToChild) => void): void {
  process.on('message', (m) => h(m as ToChild));
  // orphaned (orchestrator gone): leave
  process.on('disconnect', () => process.exit(0));
}

/** Pull `ts=<epoch ms>` out of the raw line `buf[start, end)` without parsing the JSON. */
const MARK = Buffer.from('"text":"ts=');
export function tsOfLine(buf: Buffer, start = 0, end = buf.length): number {
  const i = buf.indexOf(MARK, start);
  if (i === -1 || i >= end) return Number.NaN;
  // digits by hand: no string per line (the generator must stay cheaper than the server it measures)
  let v = 0;
  let scale = 0;
  for (let j = i + MARK.length; j < end; j++) {
    const c = buf[j]!;
    if (c === 0x2e) scale = 1;
    else if (c >= 0x30 && c <= 0x39) {
      v = v * 10 + (c - 0x30);
      if (scale) scale *= 10;
    } else break;
  }
  return scale ? v / scale : v;
}
