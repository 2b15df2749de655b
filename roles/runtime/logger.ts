// JSON logs (pino) to stdout and into the Redis log stream, with secrets redacted.
import pino, { type Logger } from 'pino';
import type { RedisLogSink } from './log-sink.ts';
import { REDACT_PATHS, scrubSecrets } from '../../kernel/redact.ts';

export interface LoggerOptions {
  role: string;
  id: string;
  host: string;
  level: string;
  sink?: RedisLogSink;
  /** where stdout lines go (tests pass their own) */
  stdout?: { write(s: string): unknown };
}

export function createLogger(o: LoggerOptions): Logger {
  const out = o.stdout ?? process.stdout;
  const dest = {
    write(s: string) {
      out.write(s);
      o.sink?.write(s);
    },
  };
  return pino(
    {
      level: o.level,
      base: { role: o.role, id: o.id, host: o.host, pid: process.pid },
      redact: { paths: REDACT_PATHS, censor: '***' },
      timestamp: pino.stdTimeFunctions.isoTime,
      serializers: { err: pino.stdSerializers.err, error: pino.stdSerializers.err },
      hooks: { streamWrite: scrubSecrets },
    },
    dest,
  );
}
export type { Logger };
