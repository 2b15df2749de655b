// What a tweet source delivers into, and what it is.

export interface SourceSink {
  /** one line of JSON text as delivered */
  line(line: string): void;
  /** one already-parsed object; `line` is its text when the source has it */
  object(obj: unknown, line?: string): void;
  /** something that is not a tweet line (counted and logged) */
  bad(reason: string, sample: string): void;
  /** resolves when the feeder has room; sources that can wait await it (live ones do not) */
  ready(): Promise<void>;
}

export interface Source {
  readonly name: string;
  /** Deliver until done (a replay without --loop) or until the signal aborts. */
  run(sink: SourceSink, signal: AbortSignal): Promise<void>;
  gauges?(): Record<string, number>;
}
