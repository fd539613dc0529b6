// SMTP replies the proxy itself sends, with their enhanced status codes (RFC 3463, RFC 4954 §6).
export const REPLY = {
  authOk: [235, '2.7.0 Authentication successful'],
  startTlsFirst: [530, '5.7.0 Must issue a STARTTLS command first'],
  alreadyAuthenticated: [503, '5.5.1 Error: already authenticated'],
  unknownMechanism: [504, '5.5.4 Unrecognized authentication type'],
  syntax: [501, '5.5.4 Syntax: AUTH mechanism [initial-response]'],
  aborted: [501, '5.7.0 Authentication aborted'],
  badBase64: [501, '5.5.2 Cannot decode response'],
  authFailed: [535, '5.7.8 Error: authentication failed'],
  unavailable: [454, '4.7.0 Temporary authentication failure, try again later'],
  tooManyFailures: [421, '4.7.0 Too many authentication failures'],
  blocked: [421, '4.7.0 Too many failed logins, try again later'],
  internalError: [421, '4.3.0 Internal error, closing connection'],
} as const satisfies Record<string, readonly [number, string]>;
