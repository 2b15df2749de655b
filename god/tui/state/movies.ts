// The Movies pane's data: the latest ranking, each movie's previous rank (▲▼) and its activity history.
import type { RankedMovie } from '../../../protocol/messages.ts';
import { SlotHistory } from '../sparkline.ts';
import type { Changes } from './changes.ts';

export class MovieRanking {
  ranking: readonly RankedMovie[] = [];
  /** when the shown ranking was sampled (ms) */
  at?: number;
  /** previous rank (0-based) of each movie, for the ▲▼ marks */
  previousRank = new Map<number, number>();
  readonly history = new Map<number, SlotHistory>();
  /** clients on each movie's feed across the fleet (endpoints' `watching` counts), when known */
  watching: ReadonlyMap<number, number> = new Map();

  constructor(
    private readonly changes: Changes,
    /** sparkline slot length and count */
    readonly slotMs: number,
    readonly slots: number,
    private readonly now: () => number,
  ) {}

  set(movies: readonly RankedMovie[], at: number = this.now()): void {
    if (this.at !== undefined && at < this.at) return; // an older snapshot arrived late
    this.previousRank = new Map(this.ranking.map((m, i) => [m.id, i]));
    this.ranking = movies;
    this.at = at;
    for (const m of movies) {
      let h = this.history.get(m.id);
      if (!h) this.history.set(m.id, (h = new SlotHistory(this.slotMs, this.slots)));
      h.add(at, m.count);
    }
    // forget movies that left the ranking longer ago than the sparkline shows
    const oldest = Math.floor(at / this.slotMs) - this.slots;
    for (const [id, h] of this.history) if ((h.lastSlot() ?? 0) < oldest) this.history.delete(id);
    this.changes.data();
  }

  setWatching(w: ReadonlyMap<number, number>): void {
    this.watching = w;
    this.changes.data();
  }

  sparkFor(movieId: number, n = this.slots): number[] {
    return this.history.get(movieId)?.rates(this.at ?? this.now(), n) ?? [];
  }
}
