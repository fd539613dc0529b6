// Logs in to DMS's Dovecot ManageSieve (Pigeonhole, RFC 5804) on behalf of a client whose
// credentials the proxy has already decided on, then hands back the raw socket for the splice.
//
//   capabilities + OK → [STARTTLS → OK → capabilities + OK] → [XCLIENT] → AUTHENTICATE "PLAIN" → OK
//
// A token user is logged in with the Dovecot master account (PLAIN with authzid = the mailbox,
// authcid = the master user), a password user with their own credentials, as for IMAP.
// The client's address reaches Dovecot as a PROXY v2 header (a `haproxy = yes` listener) or
// with Pigeonhole's XCLIENT, which managesieve-login offers to login_trusted_networks only and
// which its own proxy sends as `XCLIENT ADDR=… PORT=… SESSION=… TTL=…` (Pigeonhole 0.5,
// managesieve-proxy.c; checked against Dovecot 2.3.19's managesieve-login).
import type net from 'node:net';
import { BackendError } from './dial.js';
import type { LineReader } from './line-reader.js';
import { saslPlain, type BackendCredentials } from './credentials.js';
import { cleartextRefusal } from './cleartext-refusal.js';
import { openBackend, timedLogin, type BackendEndpoint, type Opening, type Track } from './open.js';
import { LoginTimer } from './login-timer.js';
import type { BackendClient, BackendLoginResult } from './login-result.js';
import { BACKEND_QUIT_CLOSE_MS, MAX_BACKEND_REPLY_LINES } from '../limits.js';

export type ManageSieveBackendTarget = BackendEndpoint;

/** The backend's capabilities (after TLS): upper-case name → value ('' when it has none). */
export type SieveCapabilities = Map<string, string>;

export type ManageSieveLoginResult = BackendLoginResult<{ readonly capabilities: SieveCapabilities }>;

/** One line of a ManageSieve server: a capability, or a response (RFC 5804 §4). */
export type SieveServerLine =
  | { readonly kind: 'capability'; readonly name: string; readonly value: string }
  | { readonly kind: 'response'; readonly status: 'OK' | 'NO' | 'BYE'; readonly code: string | undefined; readonly text: string };

const Q = '"((?:[^"\\\\]|\\\\.)*)"';
const CAPABILITY_LINE = new RegExp(`^${Q}(?: ${Q})?$`);
const RESPONSE_LINE = new RegExp(`^(OK|NO|BYE)(?: \\(([^)]*)\\))?(?: ${Q})?\\s*$`, 'i');

export function parseServerLine(line: string): SieveServerLine | null {
  const c = CAPABILITY_LINE.exec(line);
  if (c) return { kind: 'capability', name: unescape(c[1]!).toUpperCase(), value: unescape(c[2] ?? '') };
  const r = RESPONSE_LINE.exec(line);
  if (r) return { kind: 'response', status: r[1]!.toUpperCase() as 'OK' | 'NO' | 'BYE', code: r[2]?.toUpperCase(), text: unescape(r[3] ?? '') };
  return null;
}

function unescape(s: string): string {
  return s.replace(/\\(.)/g, '$1');
}

/** A backend session up to the point of login: connected, TLS as configured, capabilities read. */
export interface OpenManageSieve {
  readonly socket: net.Socket;
  readonly reader: LineReader;
  readonly capabilities: SieveCapabilities;
}

/** The ManageSieve opening: capabilities + OK, STARTTLS, and the capabilities again after TLS (RFC 5804 §2.2). */
const SIEVE_OPENING: Opening<SieveCapabilities> = {
  greeting: readCapabilities,
  startTls: async (reader, socket) => {
    socket.write('STARTTLS\r\n');
    await expectOk(reader, 'STARTTLS');
  },
  afterTls: readCapabilities,
};

export async function openManageSieve(target: ManageSieveBackendTarget, client: BackendClient | null, track?: Track): Promise<OpenManageSieve> {
  const { socket, reader, greeting: capabilities } = await openBackend(target, client, SIEVE_OPENING, track);
  return { socket, reader, capabilities };
}

export async function manageSieveBackendLogin(target: ManageSieveBackendTarget, req: { readonly credentials: BackendCredentials; readonly client: BackendClient }): Promise<ManageSieveLoginResult> {
  const started = performance.now();
  return timedLogin<{ readonly capabilities: SieveCapabilities }>(target.timeoutMs, async (timer, track) => {
    const open = await openManageSieve(target, req.client, track);
    const s = open.socket;
    const r = open.reader;
    if (!target.proxyProtocol && open.capabilities.has('XCLIENT')) {
      s.write(`${xclientLine(req.client)}\r\n`);
      await expectOk(r, 'XCLIENT');
    }
    timer.authenticating();
    s.write(`AUTHENTICATE "PLAIN" "${saslPlain(req.credentials)}"\r\n`);
    const done = await readResponse(r);
    if (done.status !== 'OK') {
      s.destroy();
      const reason = `backend answered ${done.status}${done.code ? ` (${done.code})` : ''} ${JSON.stringify(done.text.slice(0, 200))}`;
      // TRYLATER (RFC 5804 §1.3): Dovecot could not decide (its auth service, the userdb).
      if (done.code === 'ENCRYPT-NEEDED') return cleartextRefusal(reason, 'DMS_MANAGESIEVE_TLS', done.code);
      if (done.status === 'BYE' || done.code === 'TRYLATER') return { ok: false, kind: 'unavailable', reason, undecided: true, ...(done.code ? { code: done.code } : {}) };
      // No code tells them apart: "Authentication failed." (the credentials) or "Authorization failed" (no such target account).
      return { ok: false, kind: 'rejected', reason, ...(done.code ? { code: done.code } : {}), ...(/^Authentication failed/i.test(done.text) ? { authenticationFailed: true } : {}) };
    }
    const leftover = r.detach();
    timer.clear();
    return { ok: true, socket: s, leftover, capabilities: open.capabilities, loginMs: performance.now() - started };
  });
}

/** Asks the backend for its capabilities (no login), within DMS_TIMEOUT_MS; null when it cannot be reached now. */
export async function probeManageSieve(target: ManageSieveBackendTarget): Promise<SieveCapabilities | null> {
  // Under a deadline as every login's opening: a backend that accepts and never greets must
  // not hold the probe's socket. When it runs out, the current reader fails and its socket goes.
  let socket: net.Socket | null = null;
  let reader: LineReader | null = null;
  const timer = new LoginTimer(target.timeoutMs, () => {
    reader?.fail(timer.expired());
    socket?.destroy();
  });
  try {
    const open = await openManageSieve(target, null, (s, r) => { socket = s; reader = r; }); // behind PROXY protocol: a LOCAL header (open.ts)
    open.reader.detach();
    open.socket.on('error', () => undefined); // a reset after LOGOUT must not become an unhandled error
    open.socket.end('LOGOUT\r\n');
    setTimeout(() => open.socket.destroy(), BACKEND_QUIT_CLOSE_MS).unref();
    return open.capabilities;
  } catch {
    return null;
  } finally {
    timer.clear();
  }
}

/** Pigeonhole's XCLIENT: the client's address and our session id (Dovecot logs it as session=<…>). */
function xclientLine(c: BackendClient): string {
  const session = c.sessionId && /^[A-Za-z0-9+/=_-]{1,64}$/.test(c.sessionId) ? ` SESSION=${c.sessionId}` : '';
  // Dovecot refuses PORT=0 (the whole XCLIENT): a PROXY header may carry it; leave it out.
  const port = c.port > 0 && c.port <= 65535 ? ` PORT=${c.port}` : '';
  return `XCLIENT ADDR=${c.address}${port}${session}`;
}

async function readCapabilities(reader: LineReader): Promise<SieveCapabilities> {
  const caps: SieveCapabilities = new Map();
  for (let n = 0; n < MAX_BACKEND_REPLY_LINES; n++) {
    const line = await reader.readLine();
    const p = parseServerLine(line);
    if (!p) throw new BackendError('ERR_BACKEND_PROTOCOL', `unexpected ManageSieve line: ${line.slice(0, 200)}`);
    if (p.kind === 'capability') {
      caps.set(p.name, p.value);
      continue;
    }
    if (p.status !== 'OK') throw new BackendError('ERR_BACKEND_CLOSED', `backend said ${p.status} ${p.text.slice(0, 200)}`);
    return caps;
  }
  throw new BackendError('ERR_BACKEND_PROTOCOL', 'too many ManageSieve capability lines');
}

async function readResponse(reader: LineReader): Promise<Extract<SieveServerLine, { kind: 'response' }>> {
  const line = await reader.readLine();
  const p = parseServerLine(line);
  if (!p || p.kind !== 'response') throw new BackendError('ERR_BACKEND_PROTOCOL', `unexpected ManageSieve reply: ${line.slice(0, 200)}`);
  return p;
}

async function expectOk(reader: LineReader, what: string): Promise<void> {
  const r = await readResponse(reader);
  if (r.status !== 'OK') throw new BackendError('ERR_BACKEND_PROTOCOL', `backend answered ${what} with ${r.status} ${r.text.slice(0, 200)}`);
}
