// Logs in to DMS's Dovecot on behalf of a client whose credentials the proxy has already
// decided on, then hands back the raw socket for the splice.
//
//   greeting → [STARTTLS] → ID (client address, RFC 2971) → AUTHENTICATE PLAIN → tagged OK
//
// A token user is logged in with the Dovecot master account: PLAIN with authzid = the
// mailbox and authcid = the master user (REFERENCE: DMS master users, separator `*`).
// A password user is logged in with their own credentials (pass-through).
import type net from 'node:net';
import { BackendError } from './dial.js';
import type { LineReader } from './line-reader.js';
import { saslPlain, type BackendCredentials } from './credentials.js';
import type { ClientAddress } from './client-address.js';
import { openBackend, timedLogin, type BackendEndpoint, type Opening } from './open.js';
import { expectGreeting, greetingCapabilities, parseCapabilityCode, readTagged, refusal, untaggedCapabilities, type TaggedReply } from './imap-reply.js';
import { idCommand } from './imap-id.js';
import { ImapPlainLogin, type ImapLoginResult } from './imap-plain-login.js';
import type { BackendSink } from './login-result.js';
import { BACKEND_QUIT_CLOSE_MS } from '../limits.js';

export type { BackendCredentials, ImapLoginResult };

export type ImapBackendTarget = BackendEndpoint;

export interface ImapLoginRequest {
  readonly credentials: BackendCredentials;
  readonly client: ClientAddress;
  /** Sent with ID; Dovecot trusts x-originating-* only from login_trusted_networks. */
  readonly idFields: ReadonlyArray<readonly [string, string]>;
}

/** The IMAP opening: `* OK` greeting (its CAPABILITY code, if any), `P1 STARTTLS`. */
function imapOpening(target: ImapBackendTarget, client: ClientAddress): Opening<string | null> {
  return {
    greeting: async (reader) => greetingCapabilities(expectGreeting(await reader.readLine())),
    startTls: async (reader, socket, capabilities) => {
      // Dovecot 2.4 takes a PROXY v2 SSL TLV as TLS already active on this connection: no
      // STARTTLS offered, `BAD TLS is already active`. Fail closed (DMS_TLS asked for TLS on
      // this leg) and say which setting fits, rather than a bare protocol error.
      if (target.proxyProtocol && client.tls && capabilities !== null && !capabilities.includes('STARTTLS')) {
        throw new BackendError('ERR_BACKEND_TLS', STARTTLS_AFTER_PROXY_SSL);
      }
      await command(reader, socket, 'P1 STARTTLS', 'P1');
    },
    afterTls: () => null, // RFC 3501 §6.2.1: capabilities before TLS are void.
  };
}

export function imapBackendLogin(target: ImapBackendTarget, req: ImapLoginRequest): Promise<ImapLoginResult> {
  return imapLogin(target, req.client, saslPlain(req.credentials), idCommand(req.idFields, target.proxyProtocol === true));
}

/**
 * The login with its SASL PLAIN message (base64) and ID command (null: none) built. Over
 * plaintext one ImapPlainLogin runs it; over TLS the promise chain below.
 */
export function imapLogin(target: ImapBackendTarget, client: ClientAddress, plain: string, idLine: string | null): Promise<ImapLoginResult> {
  if (target.tls === 'none') {
    return new Promise((settle, fault) => imapLoginTo(target, client, plain, idLine, { backendSettled: settle, backendFault: fault }));
  }
  return imapTlsLogin(target, client, plain, idLine);
}

/** imapLogin() settling `sink`: over plaintext with no promise at all (a session's login, issue 21). */
export function imapLoginTo(target: ImapBackendTarget, client: ClientAddress, plain: string, idLine: string | null, sink: BackendSink<{ readonly capabilities: string }>): void {
  if (target.tls === 'none') {
    new ImapPlainLogin(target.host, target.port, target.timeoutMs, target.proxyProtocol ? client : null, plain, idLine, sink);
    return;
  }
  imapTlsLogin(target, client, plain, idLine).then((r) => sink.backendSettled(r), (err: unknown) => sink.backendFault(err));
}

function imapTlsLogin(target: ImapBackendTarget, client: ClientAddress, plain: string, idLine: string | null): Promise<ImapLoginResult> {
  const started = performance.now();
  return timedLogin<{ readonly capabilities: string }>(target.timeoutMs, async (timer, track) => {
    const { socket, reader, greeting: capabilities } = await openBackend(target, client, imapOpening(target, client), track);
    const saslIr = capabilities === null || capabilities.includes('SASL-IR');
    let done: TaggedReply;
    timer.authenticating();
    if (saslIr) {
      // ID and AUTHENTICATE in one write, one round trip instead of two: commands may be
      // pipelined (RFC 3501 §5.5), and Dovecot applies the ID before it reads the next line.
      socket.write(`${idLine ? `${idLine}\r\n` : ''}P3 AUTHENTICATE PLAIN ${plain}\r\n`);
      if (idLine) await tagged(reader, 'P2');
      done = await tagged(reader, 'P3', true);
    } else {
      if (idLine) await command(reader, socket, idLine, 'P2');
      socket.write('P3 AUTHENTICATE PLAIN\r\n');
      const cont = await reader.readLine();
      if (!cont.startsWith('+')) throw new BackendError('ERR_BACKEND_PROTOCOL', 'backend refused AUTHENTICATE PLAIN');
      done = await command(reader, socket, plain, 'P3', true);
    }
    if (done.status !== 'OK') {
      socket.destroy();
      return refusal(done);
    }
    let caps = parseCapabilityCode(done.text);
    if (!caps) {
      const untagged: string[] = [];
      await command(reader, socket, 'P4 CAPABILITY', 'P4', false, untagged);
      caps = untagged.map(untaggedCapabilities).find(Boolean) ?? 'IMAP4rev1';
    }
    const leftover = reader.detach();
    timer.clear();
    return { ok: true, socket, capabilities: caps, leftover, loginMs: performance.now() - started };
  });
}

/** The reason a login fails when DMS offers no STARTTLS after our PROXY header's SSL flag. */
export const STARTTLS_AFTER_PROXY_SSL = 'DMS offers no STARTTLS after the PROXY v2 header with the client\'s TLS flag (Dovecot 2.4 takes it as TLS already active): '
  + 'set DMS_TLS=implicit towards a haproxy = yes, ssl = yes listener (DMS 10993), or DMS_TLS=none towards 10143';

/** Ends a login made only to check something (an account, a password): LOGOUT, closed within a second. */
export function logoutAndClose(socket: net.Socket): void {
  socket.on('error', () => undefined);
  socket.end('L1 LOGOUT\r\n');
  setTimeout(() => socket.destroy(), BACKEND_QUIT_CLOSE_MS).unref();
}

function command(reader: LineReader, socket: net.Socket, line: string, tag: string, acceptNo = false, untagged?: string[]): Promise<TaggedReply> {
  socket.write(`${line}\r\n`);
  return tagged(reader, tag, acceptNo, untagged);
}

/** Reads up to the tagged reply for `tag`; untagged lines go to `untagged`. */
async function tagged(reader: LineReader, tag: string, acceptNo = false, untagged?: string[]): Promise<TaggedReply> {
  for (;;) {
    const reply = await reader.readLine();
    const done = readTagged(reply, tag, acceptNo);
    if (done !== null) return done;
    untagged?.push(reply);
  }
}
