// Logs in to DMS's Dovecot pop3 on behalf of a client whose credentials the proxy has already
// decided on, then hands back the raw socket for the splice.
//
//   greeting → [STLS] → XCLIENT ADDR PORT SESSION → AUTH PLAIN <initial response> → +OK
//
// A token user is logged in with the Dovecot master account (PLAIN with authzid = the
// mailbox, authcid = the master user); a password user with their own credentials, as in
// imap-login.ts. The client's address reaches Dovecot with XCLIENT, which Dovecot 2.3's
// pop3-login accepts from login_trusted_networks and announces with `[XCLIENT]` in its
// greeting (src/pop3-login/client.c), or with a PROXY v2 header (haproxy = yes listener).
import { BackendError } from './dial.js';
import { saslPlain, type BackendCredentials } from './credentials.js';
import { cleartextRefusal, isCleartextRefusal } from './cleartext-refusal.js';
import { openBackend, timedLogin, type BackendEndpoint, type Opening } from './open.js';
import type { BackendClient, BackendLoginResult } from './login-result.js';

export type Pop3BackendTarget = BackendEndpoint;

/** `addressPassed`: Dovecot got the client's address (a PROXY header, or XCLIENT it trusts us with). */
export type Pop3LoginResult = BackendLoginResult<{ readonly addressPassed: boolean }>;

/**
 * RFC 3206 / RFC 2449 §8 response codes that mean "not now", not "wrong credentials":
 * SYS/TEMP (Dovecot: auth or userdb trouble), IN-USE (mailbox locked), LOGIN-DELAY.
 */
const TEMPORARY_CODES = new Set(['SYS/TEMP', 'IN-USE', 'LOGIN-DELAY']);

/** The POP3 opening: `+OK` greeting (`[XCLIENT]`: Dovecot trusts us with the client's address), STLS (RFC 2595 §4). */
const POP3_OPENING: Opening<{ readonly trusted: boolean }> = {
  greeting: async (reader) => ({ trusted: /^\+OK \[XCLIENT\]/i.test(expectOk(await reader.readLine(), 'greeting')) }),
  startTls: async (reader, socket) => {
    socket.write('STLS\r\n');
    expectOk(await reader.readLine(), 'STLS');
  },
  afterTls: (_reader, greeting) => greeting,
};

export async function pop3BackendLogin(target: Pop3BackendTarget, credentials: BackendCredentials, client: BackendClient): Promise<Pop3LoginResult> {
  const started = performance.now();
  return timedLogin<{ readonly addressPassed: boolean }>(target.timeoutMs, async (timer, track) => {
    const { socket, reader, greeting: { trusted } } = await openBackend(target, client, POP3_OPENING, track);

    // With PROXY protocol the header carries the address already; without a trusted greeting
    // Dovecot would only say it ignores XCLIENT.
    const xclient = !target.proxyProtocol && trusted ? xclientLine(client) : null;
    timer.authenticating();
    // One write, one round trip: Dovecot's pop3-login reads command after command.
    socket.write(`${xclient ? `${xclient}\r\n` : ''}AUTH PLAIN ${saslPlain(credentials)}\r\n`);
    if (xclient) expectOk(await reader.readLine(), 'XCLIENT');
    const reply = await reader.readLine();
    if (!reply.startsWith('+OK')) {
      if (!reply.startsWith('-ERR')) throw new BackendError('ERR_BACKEND_PROTOCOL', `unexpected backend reply to AUTH: ${reply.slice(0, 200)}`);
      socket.destroy();
      timer.clear();
      return refusal(reply);
    }
    const leftover = reader.detach();
    timer.clear();
    return { ok: true, socket, leftover, loginMs: performance.now() - started, addressPassed: target.proxyProtocol === true || trusted };
  });
}

/** Dovecot's `XCLIENT` (pop3-login): the client's address and port, and our session id for its log. */
export function xclientLine(c: BackendClient): string {
  const session = c.sessionId && /^[A-Za-z0-9_-]{1,64}$/.test(c.sessionId) ? ` SESSION=${c.sessionId}` : '';
  // Dovecot refuses PORT=0 (the whole XCLIENT): a PROXY header may carry it; leave it out.
  const port = c.port > 0 && c.port <= 65535 ? ` PORT=${c.port}` : '';
  return `XCLIENT ADDR=${c.address}${port}${session}`;
}

/** `-ERR [AUTH] …` is a verdict on the credentials; a temporary code is none (RFC 3206 §4, §5). */
export function refusal(reply: string): Pop3LoginResult {
  const code = /^-ERR \[([^\]\s]+)\]/i.exec(reply)?.[1]?.toUpperCase();
  const reason = `backend answered ${reply.slice(0, 200)}`;
  if (isCleartextRefusal(reply)) return cleartextRefusal(reason, 'DMS_POP3_TLS', code);
  // [AUTH] for both: "Authentication failed." (the credentials) and "Authorization failed" (no such target account).
  if (code === 'AUTH') return { ok: false, kind: 'rejected', reason, code, ...(/^-ERR \[AUTH\] Authentication failed/i.test(reply) ? { authenticationFailed: true } : {}) };
  if (code !== undefined && TEMPORARY_CODES.has(code)) return { ok: false, kind: 'unavailable', reason, undecided: true, code };
  // No code: not a verdict on these credentials (e.g. "Plaintext authentication disallowed"):
  // a misconfigured backend must not count as the client's failure.
  return { ok: false, kind: 'unavailable', reason, ...(code ? { code } : {}) };
}

function expectOk(line: string, what: string): string {
  if (line.startsWith('+OK')) return line;
  throw new BackendError('ERR_BACKEND_PROTOCOL', `unexpected backend reply to ${what}: ${line.slice(0, 200)}`);
}
