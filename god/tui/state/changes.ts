// How a piece of the dashboard's state says it changed: new data waits for the next flush (a flood of log lines
// costs one render per interval); a view change (a key press) renders now.
export interface Changes {
  data(): void;
  view(): void;
}
