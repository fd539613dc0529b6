// The one root logger. Redaction is configured here only: pino replaces the parent's
// redact list when a child is given its own, so children never get one (shared REFERENCE).
import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

// Field names that may carry a secret anywhere in a log object. Code never logs these on
// purpose; this is the safety net.
export const REDACT_PATHS = [
  'token', 'accessToken', 'password', 'pass', 'masterPassword', 'secret', 'authorization', 'auth',
  '*.token', '*.accessToken', '*.password', '*.pass', '*.masterPassword', '*.secret', '*.authorization', '*.auth',
  'headers.authorization', '*.headers.authorization',
];

export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { svc: 'oauth2-mail-proxy' },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (destination) return pino(options, destination);
  if (process.stdout.isTTY && !process.env.CI) {
    return pino({ ...options, transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'svc,pid,hostname' } } });
  }
  return pino(options);
}
