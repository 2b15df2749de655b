// What the dashboard's keys can ask of God's services. The wiring (dashboard command, demo) provides these
// from the core services; a missing one means "not available here" and the key says so.
import type { MovieRef, WatchEvent } from '../core/watch.ts';
import type { ProcessRow } from './store.ts';

/** What a down key chose: `x` drains, `X` forces. */
export interface DownHow {
  force: boolean;
  confirmLast: (ids: string[]) => Promise<boolean>;
}

export interface DashboardActions {
  /** one more process of `role` */
  up?(role: string): Promise<unknown>;
  /**
   * Stop one process; an endpoint is drained first (god/core/drain.ts) unless `how.force`. `how.confirmLast`
   * asks the operator before the last endpoint goes (nowhere to move its clients).
   */
  down?(row: ProcessRow, how: DownHow): Promise<unknown>;
  restart?(row: ProcessRow): Promise<unknown>;
  /** deploy the current build to the fleet; progress arrives as GodEvents (store.applyEvent) */
  deploy?(): Promise<{ ok: boolean; error?: string } | undefined>;
  /** ask an endpoint to shed `clients` connections */
  shed?(row: ProcessRow, clients: number): Promise<unknown>;
  /**
   * What `up`/`down`/`restart` of this row would change, one line each (the provider's plan, as
   * `god … --dry-run` prints it): shown in the confirm prompt before the operator says yes.
   */
  plan?(op: 'up' | 'down' | 'restart', row: ProcessRow): Promise<string[]>;
  /**
   * An interactive shell on the host of this process (`god ssh`): the dashboard steps aside (run.tsx unmounts
   * Ink and gives the terminal to the shell) and comes back when it exits.
   */
  shell?(row: ProcessRow): Promise<unknown>;
  /**
   * Watch a movie's live feed as a user does (god/core/watch.ts: a real client of a real endpoint). Events
   * arrive through `onEvent`; `started` settles once the feed runs (or why not); close() ends the connection.
   * Looking, not touching: offered in read-only dashboards too.
   */
  watch?(movie: MovieRef, onEvent: (ev: WatchEvent) => void): { started: Promise<MovieRef>; close(): void };
  /** leave the dashboard (the demo also stops the fleet) */
  quit(): void;
  /**
   * A dashboard to look at, not to touch (`--read-only`, GOD_READ_ONLY=1): the keys that change the fleet are
   * hidden from the help and the footer and refused, and the wiring gives none of the functions above.
   */
  readOnly?: boolean;
  /** where `w` saves the log view (default: the working folder) */
  saveDir?: string;
}
