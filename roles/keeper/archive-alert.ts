// Archive outage alert: when storing to the archive (S3 or the folder) has failed for --archive-alert-after,
// the keeper alerts once, saying how much waits in its spool; once the archive takes objects again and the
// spool is uploaded, once more. Per keeper: each has its own target connection and its own spool.
import type { Logger } from '../runtime/logger.ts';
import type { Notifier } from './notifier.ts';
import { formatDuration as fmtDuration } from '../../kernel/units.ts';
import { formatBytes } from '../../kernel/units.ts';

export interface ArchiveAlertOptions {
  thresholdMs: number;
  notifier: Notifier;
  log: Logger;
  target: string;
  /** since when stores fail (0: the last one worked), and the last error */
  failing: () => { since: number; error: string };
  /** true while objects wait for the archive (the spool is not uploaded yet) */
  down: () => boolean;
  spool: () => { objects: number; bytes: number; entries: number; dir: string; maxBytes: number };
  keeperId: string;
}

export class ArchiveOutageMonitor {
  /** when the failures began, while an outage alert is open */
  private openSince = 0;

  constructor(private readonly o: ArchiveAlertOptions) {}

  get open(): boolean {
    return this.openSince > 0;
  }

  async tick(now = Date.now()): Promise<void> {
    const f = this.o.failing();
    if (!this.openSince) {
      if (!f.since || now - f.since < this.o.thresholdMs) return;
      this.openSince = f.since;
      const s = this.o.spool();
      await this.o.notifier.send({
        kind: 'archive_down',
        subject: `Filmgrain: archive unreachable for ${fmtDuration(now - f.since)} (keeper ${this.o.keeperId})`,
        text:
          `Keeper ${this.o.keeperId} cannot store to ${this.o.target} since ${iso(f.since)}: ${f.error}\n` +
          `Spooled: ${s.objects} objects, ${s.entries} log lines, ${formatBytes(s.bytes)} of ${formatBytes(s.maxBytes)} in ${s.dir}. ` +
          'When the spool is full, reading stops and new lines wait in the capped Redis stream.',
      });
      return;
    }
    if (this.o.down()) return;
    const since = this.openSince;
    this.openSince = 0;
    await this.o.notifier.send({
      kind: 'archive_up',
      subject: `Filmgrain: archive reachable again after ${fmtDuration(now - since)} (keeper ${this.o.keeperId})`,
      text: `Keeper ${this.o.keeperId} stores to ${this.o.target} again; the spool is uploaded.`,
    });
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
}
