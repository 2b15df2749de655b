// Types of fg-supervisor.mjs (plain JS: it ships to hosts with the release).
export class RotatingLog {
  constructor(file: string, o: { maxBytes: number; files: number });
  readonly file: string;
  write(buf: Buffer): void;
  close(): void;
}
