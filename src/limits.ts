// Fixed limits and timers that are not configuration keys, each with why it is what it is.
// (Limits an operator may need to change are keys: src/config/keys.ts.) Nothing here imports
// anything: every floor may read it.

/** Failed logins on one connection before it is closed. RFC 9051 and RFC 4954 set none; Dovecot closes after a few too. */
export const MAX_AUTH_FAILURES = 3;

/** After a polite close (BYE, 421, -ERR) the client has this long to close its side before the socket is destroyed. */
export const POLITE_CLOSE_MS = 2000;

/** A connection refused at the door (blocked IP, connection limits) is destroyed this long after its refusal line. */
export const REFUSAL_CLOSE_MS = 1000;
