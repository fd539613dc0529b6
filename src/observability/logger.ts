// The one root logger. Every object logged goes through censor() (censor.ts), the safety
// net against a secret in a log line. pino applies formatters.log to children's lines too,
// but not to their bindings: children are made with fixed keys only (sessionLogger() in
// metrics.ts, the SCIM listener's).
import { pino, type Logger, type DestinationStream } from 'pino';
import { censor } from './censor.js';
import { isoTimeOf } from './timestamp.js';

export type { Logger };

export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { svc: 'oauth2-mail-proxy' },
    formatters: { log: censor },
    timestamp: isoTimeOf(),
  };
  if (destination) return pino(options, destination);
  if (process.stdout.isTTY && !process.env.CI) {
    return pino({ ...options, transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'svc,pid,hostname' } } });
  }
  return pino(options, batchedStdout());
}

// pino's default stdout writer hands every line to a libuv worker thread: two thread
// wake-ups per line, measured (strace, perf) as most of the futex calls and a good part of
// the proxy's CPU per login. Lines are collected instead and written in one go every
// 100 ms, or as soon as 4 KiB are waiting. Bounded: past 16 MiB waiting (stdout not read),
// the newest lines are dropped rather than kept. A full pipe (EAGAIN) is retried every
// 100 ms; on exit pino's handler writes what waits synchronously, waiting for the reader.
// test/observability/log-destination.test.ts pins all of this.
//
// In 'buffer' mode: given strings, sonic-boom re-measures the UTF-8 length of the whole
// pending batch (up to 16 KiB) on every line, flattening it into a new string first: ~4.8 KB
// of garbage per login (two lines), measured (issue 21). Given each line as a Buffer, it adds
// lengths it already has; the bytes written are the same.
const BATCHED = { sync: false, minLength: 4096, periodicFlush: 100, maxLength: 16 * 1024 * 1024, contentMode: 'buffer' } as const;

function batchedStdout(): DestinationStream {
  const stream = pino.destination({ dest: 1, ...BATCHED });
  const writeBuffer = stream.write as unknown as (this: typeof stream, line: Buffer) => boolean; // typed for utf8 mode
  // An own property, so pino's EPIPE handler still replaces it with a no-op (stops logging).
  stream.write = function (line: string): boolean { return writeBuffer.call(this, Buffer.from(line)); };
  return stream;
}
