// What the proxy says on ManageSieve (RFC 5804 §4 responses): OK, NO and BYE with an optional
// response code in parentheses and a quoted text. Texts live in one table, so every refusal is
// worded once and tests match codes, not prose.
import { quote } from './parser.js';

export const TEXT = {
  greeting: 'oauth2-mail-proxy ready.',
  capability: 'Capability completed.',
  noop: 'NOOP completed.',
  logout: 'Logout completed.',
  startTls: 'Begin TLS negotiation now.',
  tlsDone: 'TLS negotiation successful.',
  tlsActive: 'TLS is already active.',
  tlsUnavailable: 'STARTTLS is not available.',
  encryptNeeded: 'Plaintext authentication disallowed without TLS.',
  authFailed: 'Authentication failed.',
  authAborted: 'Authentication aborted by client.',
  unavailable: 'Temporary authentication failure, try again later.',
  unknownMechanism: 'Unsupported authentication mechanism.',
  badSasl: 'Invalid SASL response.',
  unknownCommand: 'Unknown command.',
  notAuthenticated: 'Authenticate first.',
  syntax: 'Invalid arguments.',
  lineTooLong: 'Command line too long.',
  literalTooBig: 'Literal too big.',
  tooManyBad: 'Too many invalid commands.',
  tooManyFailures: 'Too many authentication failures.',
  // Codes in front in parentheses (farewell() below moves them out of the quoted text).
  blocked: '(TRYLATER) Too many failed logins, try again later.',
  http: 'HTTP requests are not allowed on a mail port.',
  timeout: 'Disconnected for inactivity.',
  internalError: 'Internal error, closing connection.',
  bufferFull: 'Too much data before login.',
  loggedIn: 'Logged in.',
} as const;

/** RFC 5804 §1.3 response codes the proxy uses. */
export type SieveCode = 'AUTH-TOO-WEAK' | 'ENCRYPT-NEEDED' | 'TRYLATER' | `TAG ${string}`;

export function response(status: 'OK' | 'NO' | 'BYE', text: string, code?: SieveCode): string {
  return `${status}${code ? ` (${code})` : ''} ${quote(text)}\r\n`;
}

/** `BYE` for a text that may carry a code in front, `(CODE) text` (the shared connection texts are plain strings). */
export function farewell(text: string): string {
  const m = /^\(([A-Z-]+)\) (.*)$/.exec(text);
  return m ? response('BYE', m[2]!, m[1] as SieveCode) : response('BYE', text);
}
