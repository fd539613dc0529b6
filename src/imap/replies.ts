// Reply texts in one place, so every refusal is worded once and tests can match codes.
export const TEXT = {
  greeting: 'oauth2-mail-proxy ready.',
  capability: 'Pre-login capabilities listed, post-login capabilities have more.',
  noop: 'NOOP completed.',
  logout: 'Logout completed.',
  bye: 'Logging out',
  id: 'ID completed.',
  startTls: 'Begin TLS negotiation now.',
  tlsActive: 'TLS is already active.',
  tlsUnavailable: 'STARTTLS is not available.',
  privacyRequired: 'Plaintext authentication disallowed without TLS.',
  authFailed: 'Authentication failed.',
  authAborted: 'Authentication aborted by client.',
  unavailable: 'Temporary authentication failure, try again later.',
  unknownMechanism: 'Unsupported authentication mechanism.',
  badSasl: 'Invalid SASL response.',
  unknownCommand: 'Unknown command.',
  notAuthenticated: 'Log in first.',
  syntax: 'Invalid arguments.',
  lineTooLong: 'Command line too long.',
  literalTooBig: 'Literal too big.',
  tooManyBad: 'Too many invalid IMAP commands.',
  tooManyFailures: 'Too many authentication failures.',
  blocked: '[UNAVAILABLE] Too many failed logins, try again later.',
  http: 'HTTP requests are not allowed on a mail port.',
  timeout: 'Disconnected for inactivity.',
  internalError: '[SERVERBUG] Internal error, closing connection.',
  bufferFull: 'Too much data before login.',
  shutdown: 'Server shutting down.',
  loggedIn: 'Logged in',
} as const;

export function tagged(tag: string, status: 'OK' | 'NO' | 'BAD', text: string, code?: string): string {
  return `${tag} ${status} ${code ? `[${code}] ` : ''}${text}\r\n`;
}

export function untagged(text: string): string {
  return `* ${text}\r\n`;
}
