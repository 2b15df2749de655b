// A fixed-capacity ring of items numbered by a growing sequence: the oldest fall off, memory never grows.
export class Ring<T> {
  private readonly items: Array<T | undefined>;
  private head = 0; // index of the oldest item
  private size = 0;
  /** sequence number of the oldest item held */
  firstSeq = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity <= 0)
      throw new Error(`ring capacity must be > 0 (${capacity})`);
    this.items = new Array(capacity);
  }

  get length(): number {
    return this.size;
  }

  /** sequence number the next pushed item gets */
  get nextSeq(): number {
    return this.firstSeq + this.size;
  }

  push(item: T): number {
    const seq = this.nextSeq;
    if (this.size < this.capacity) {
      this.items[(this.head + this.size) % this.capacity] = item;
      this.size++;
    } else {
      this.items[this.head] = item;
      this.head = (this.head + 1) % this.capacity;
      this.firstSeq++;
    }
    return seq;
  }

  /** the item with sequence number `seq`, if still held */
  at(seq: number): T | undefined {
    const i = seq - this.firstSeq;
    if (i < 0 || i >= this.size) return undefined;
    return this.items[(this.head + i) % this.capacity];
  }

  /** iterate from newest to oldest, starting at `fromSeq` (inclusive); stop when `fn` returns false */
  walkBack(fromSeq: number, fn: (item: T, seq: number) => boolean): void {
    const last = Math.min(fromSeq, this.nextSeq - 1);
    for (let s = last; s >= this.firstSeq; s--) {
      if (!fn(this.at(s) as T, s)) return;
    }
  }

  clear(): void {
    this.firstSeq = this.nextSeq;
    this.head = 0;
    this.size = 0;
    this.items.fill(undefined);
  }
}
