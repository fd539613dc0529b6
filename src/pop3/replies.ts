// POP3 reply texts in one place, so every refusal is worded once and tests can match codes.
// Response codes: RFC 2449 §8 (in brackets after -ERR), [AUTH] and [SYS/TEMP] from RFC 3206.
export const TEXT = {
  greeting: 'oauth2-mail-proxy ready.',
  capa: 'Capability list follows.',
  authMechanisms: 'Mechanisms follow.',
  quit: 'Logging out.',
  startTls: 'Begin TLS negotiation now.',
  tlsActive: 'TLS is already active.',
  tlsUnavailable: 'STLS is not available.',
  // Dovecot's wording for the same refusal (pop3-login), so clients that match it keep working.
  privacyRequired: 'Plaintext authentication disallowed on non-secure (SSL/TLS) connections.',
  userOk: 'Send your password.',
  noUser: 'No user name given.',
  authFailed: 'Authentication failed.',
  authAborted: 'Authentication aborted by client.',
  unavailable: 'Temporary authentication failure, try again later.',
  unknownMechanism: 'Unsupported authentication mechanism.',
  badSasl: 'Invalid SASL response.',
  unknownCommand: 'Unknown command.',
  notAuthenticated: 'Log in first.',
  syntax: 'Invalid arguments.',
  lineTooLong: 'Line too long.',
  tooManyBad: 'Too many invalid commands.',
  tooManyFailures: 'Too many authentication failures.',
  blocked: '[SYS/TEMP] Too many failed logins, try again later.',
  http: 'HTTP requests are not allowed on a mail port.',
  timeout: 'Disconnected for inactivity.',
  internalError: '[SYS/TEMP] Internal error, closing connection.',
  loggedIn: 'Logged in.',
  shutdown: 'Server shutting down.',
  revoked: 'Account disabled.',
  appPasswordRevoked: 'App password revoked.',
} as const;

export function ok(text: string): string {
  return `+OK ${text}\r\n`;
}

export function err(text: string, code?: 'AUTH' | 'SYS/TEMP'): string {
  return `-ERR ${code ? `[${code}] ` : ''}${text}\r\n`;
}

/** A multi-line response (RFC 1939 §3): +OK, the lines (dot-stuffed), a lone dot. */
export function multiline(text: string, lines: readonly string[]): string {
  return `+OK ${text}\r\n${lines.map((l) => `${l.startsWith('.') ? '.' : ''}${l}\r\n`).join('')}.\r\n`;
}
