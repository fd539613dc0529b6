// What our EHLO may promise: only what Postfix will honour after the splice, since from
// then on the client talks to Postfix (SIZE equals the backend's message_size_limit).
import type { SMTPServerOptions } from 'smtp-server';
import type { Logger } from '../observability/logger.js';
import { openSmtpBackend, type SmtpBackendTarget } from '../backend/smtp-login.js';
import { BACKEND_QUIT_CLOSE_MS } from '../limits.js';

export type EhloOptions = Pick<SMTPServerOptions, 'size' | 'hidePIPELINING' | 'hide8BITMIME' | 'hideSMTPUTF8' | 'hideDSN' | 'hideENHANCEDSTATUSCODES'>;

/** DMS's defaults (Postfix message_size_limit 10240000 and the usual extensions), used until the backend is asked. */
export const DMS_DEFAULT_FEATURES = new Map<string, string>([
  ['PIPELINING', ''], ['SIZE', '10240000'], ['8BITMIME', ''], ['SMTPUTF8', ''], ['DSN', ''], ['ENHANCEDSTATUSCODES', ''],
]);

export function ehloOptions(features: ReadonlyMap<string, string>): EhloOptions {
  const size = Number(features.get('SIZE'));
  return {
    size: Number.isFinite(size) && size > 0 ? size : 0,
    hidePIPELINING: !features.has('PIPELINING'),
    hide8BITMIME: !features.has('8BITMIME'),
    hideSMTPUTF8: !features.has('SMTPUTF8'),
    hideDSN: !features.has('DSN'),
    hideENHANCEDSTATUSCODES: !features.has('ENHANCEDSTATUSCODES'),
  };
}

/** Asks the backend for its EHLO features; null when it cannot be reached now. */
export async function probeFeatures(target: SmtpBackendTarget, log: Logger): Promise<Map<string, string> | null> {
  try {
    const s = await openSmtpBackend(target);
    s.reader.detach();
    s.socket.on('error', () => undefined); // a reset after QUIT must not become an unhandled error
    s.socket.end('QUIT\r\n');
    setTimeout(() => s.socket.destroy(), BACKEND_QUIT_CLOSE_MS).unref();
    return s.features;
  } catch (err) {
    log.warn({ event: 'backend-probe-failed', err: (err as Error).message }, 'cannot read the backend EHLO features yet; using DMS defaults');
    return null;
  }
}
