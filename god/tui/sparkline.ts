// Per-movie activity over the last minutes, from successive ranking snapshots, drawn as ▁▂▃▄▅▆▇█.
const BARS = '▁▂▃▄▅▆▇█';

/** Bars for `values`, scaled to `max` (default: their own maximum); zero stays the lowest bar. */
export function sparkline(values: number[], max = Math.max(0, ...values)): string {
  if (values.length === 0) return '';
  let s = '';
  for (const v of values) {
    const i = max > 0 ? Math.min(BARS.length - 1, Math.round((Math.max(0, v) / max) * (BARS.length - 1))) : 0;
    s += BARS[i];
  }
  return s;
}

/**
 * Samples of a movie's window count, kept as the last count seen in each time slot. The sparkline shows
 * tweets per slot (the count's growth), which is what "how much it is talked about now" means; a count
 * that shrinks (old tweets leaving the hour window) shows as no activity rather than a negative bar.
 */
export class SlotHistory {
  private readonly slots = new Map<number, number>();

  constructor(
    readonly slotMs: number,
    readonly keep: number,
  ) {}

  add(at: number, count: number): void {
    const slot = Math.floor(at / this.slotMs);
    this.slots.set(slot, count);
    if (this.slots.size > this.keep + 1) {
      const min = slot - this.keep;
      for (const k of this.slots.keys()) if (k < min) this.slots.delete(k);
    }
  }

  lastSlot(): number | undefined {
    let max: number | undefined;
    for (const k of this.slots.keys()) if (max === undefined || k > max) max = k;
    return max;
  }

  /** growth per slot for the `n` slots ending at the slot of `now`; slots without a sample carry the last count */
  rates(now: number, n: number): number[] {
    const end = Math.floor(now / this.slotMs);
    const start = end - n;
    // the count just before the window, so the first bar has a base
    let prev = this.valueAtOrBefore(start);
    const out: number[] = [];
    for (let s = start + 1; s <= end; s++) {
      const v = this.slots.get(s);
      if (v === undefined) {
        out.push(0);
        continue;
      }
      out.push(prev === undefined ? 0 : Math.max(0, v - prev));
      prev = v;
    }
    return out;
  }

  private valueAtOrBefore(slot: number): number | undefined {
    let best: number | undefined;
    let val: number | undefined;
    for (const [k, v] of this.slots) {
      if (k <= slot && (best === undefined || k > best)) {
        best = k;
        val = v;
      }
    }
    return val;
  }
}
