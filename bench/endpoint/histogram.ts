// Latency histogram: 0.1 ms buckets up to 10 s (plus one overflow bucket); mergeable across processes.
const RES_MS = 0.1;
const BUCKETS = 100_000;

export class Histogram {
  counts = new Uint32Array(BUCKETS + 1);
  n = 0;

  add(ms: number): void {
    const i = ms <= 0 ? 0 : Math.min(BUCKETS, Math.floor(ms / RES_MS));
    this.counts[i]!++;
    this.n++;
  }

  reset(): void {
    this.counts.fill(0);
    this.n = 0;
  }

  /** Sparse form for IPC: [bucket, count] pairs. */
  toSparse(): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    for (let i = 0; i <= BUCKETS; i++) if (this.counts[i]) out.push([i, this.counts[i]!]);
    return out;
  }

  addSparse(pairs: Array<[number, number]>): void {
    for (const [i, c] of pairs) {
      this.counts[i]! += c;
      this.n += c;
    }
  }

  /** Upper edge (ms) of the bucket holding quantile q. */
  quantile(q: number): number {
    if (this.n === 0) return Number.NaN;
    const rank = Math.ceil(q * this.n);
    let seen = 0;
    for (let i = 0; i <= BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return (i + 1) * RES_MS;
    }
    return Number.POSITIVE_INFINITY;
  }
}

/** Epoch milliseconds with sub-millisecond precision, comparable between processes of one machine. */
export const nowMs = (): number => performance.timeOrigin + performance.now();
