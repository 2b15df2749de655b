// `w` in the dashboard: the log view as it stands (the filter applied, up to the pause) into a file, one
// line per log line with its full time, source and level. Logs can hold what others should not read, so
// the file is created 0600, never over an existing one.
import fs from 'node:fs';
import path from 'node:path';
import { display, type LogLine } from './log-line.ts';

export function logFileText(lines: LogLine[]): string {
  return lines
    .map((line) => {
      const shown = display(line);
      const src = `${line.role}/${line.id}@${line.host}`;
      return `${new Date(shown.time).toISOString()} ${src} ${line.level.toUpperCase()} ${shown.text}\n`;
    })
    .join('');
}

/** Writes the lines to `dir`/god-log-<time>.log (a new file, 0600) and returns its path. */
export function saveLogView(lines: LogLine[], dir: string, now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
  for (let n = 0; ; n++) {
    const file = path.join(dir, `god-log-${stamp}${n ? `-${n}` : ''}.log`);
    try {
      fs.writeFileSync(file, logFileText(lines), { flag: 'wx', mode: 0o600 });
      return file;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || n > 100) throw err;
    }
  }
}
