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
  return pino(options, pino.destination({ dest: 1, ...BATCHED }));
}

// pino's default stdout writer hands every line to a libuv worker thread: two thread
// wake-ups per line, measured (strace, perf) as most of the futex calls and a good part of
// the proxy's CPU per login. Lines are collected instead and written in one go every
// 100 ms, or as soon as 4 KiB are waiting; pino writes what is left synchronously on exit.
// Bounded: past 16 MiB waiting (stdout not read), lines are dropped rather than kept.
const BATCHED = { sync: false, minLength: 4096, periodicFlush: 100, maxLength: 16 * 1024 * 1024 } as const;
