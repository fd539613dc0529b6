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
import type { BackendLoginResult } from './login-result.js';
import { BACKEND_QUIT_CLOSE_MS } from '../limits.js';

export type { BackendCredentials };

export type ImapBackendTarget = BackendEndpoint;

export interface ImapLoginRequest {
  readonly credentials: BackendCredentials;
  readonly client: ClientAddress;
  /** Sent with ID; Dovecot trusts x-originating-* only from login_trusted_networks. */
  readonly idFields: ReadonlyArray<readonly [string, string]>;
}

export type ImapLoginResult = BackendLoginResult<{ readonly capabilities: string }>;

/** The IMAP opening: `* OK` greeting (its CAPABILITY code, if any), `P1 STARTTLS`. */
function imapOpening(target: ImapBackendTarget, client: ClientAddress): Opening<string | null> {
  return {
    greeting: async (reader) => parseCapabilityCode(expectGreeting(await reader.readLine())),
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

export async function imapBackendLogin(target: ImapBackendTarget, req: ImapLoginRequest): Promise<ImapLoginResult> {
  const started = performance.now();
  return timedLogin<{ readonly capabilities: string }>(target.timeoutMs, async (timer, track) => {
    const { socket, reader, greeting: capabilities } = await openBackend(target, req.client, imapOpening(target, req.client), track);

    // With PROXY protocol the header already carries the client address.
    const idLine = idCommand(req.idFields, target.proxyProtocol === true);

    const plain = saslPlain(req.credentials);
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
      const code = /^\[([^\]\s]+)/.exec(done.text)?.[1]?.toUpperCase();
      const unavailable = code !== undefined && ['UNAVAILABLE', 'SERVERBUG', 'INUSE', 'LIMIT'].includes(code);
      socket.destroy();
      const reason = `backend answered ${done.status} ${done.text}`;
      return unavailable ? { ok: false, kind: 'unavailable', reason, undecided: true, code } : { ok: false, kind: 'rejected', reason, ...(code ? { code } : {}) };
    }
    let caps = parseCapabilityCode(done.text);
    if (!caps) {
      const untagged: string[] = [];
      await command(reader, socket, 'P4 CAPABILITY', 'P4', false, untagged);
      caps = untagged.map((l) => /^\* CAPABILITY (.*)$/i.exec(l)?.[1]).find(Boolean) ?? 'IMAP4rev1';
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

interface TaggedReply { status: 'OK' | 'NO' | 'BAD'; text: string }

function command(reader: LineReader, socket: net.Socket, line: string, tag: string, acceptNo = false, untagged?: string[]): Promise<TaggedReply> {
  socket.write(`${line}\r\n`);
  return tagged(reader, tag, acceptNo, untagged);
}

/** Reads up to the tagged reply for `tag`; untagged lines go to `untagged`. */
async function tagged(reader: LineReader, tag: string, acceptNo = false, untagged?: string[]): Promise<TaggedReply> {
  for (;;) {
    const reply = await reader.readLine();
    if (reply.startsWith('* ')) {
      if (/^\* BYE/i.test(reply)) throw new BackendError('ERR_BACKEND_CLOSED', `backend said ${reply.slice(0, 200)}`);
      untagged?.push(reply);
      continue;
    }
    if (reply.startsWith('+')) throw new BackendError('ERR_BACKEND_PROTOCOL', 'unexpected continuation from the backend');
    const m = /^(\S+) (OK|NO|BAD)\b ?(.*)$/i.exec(reply);
    if (!m || m[1] !== tag) throw new BackendError('ERR_BACKEND_PROTOCOL', `unexpected backend reply to ${tag}`);
    const status = m[2]!.toUpperCase() as TaggedReply['status'];
    if (status !== 'OK' && !acceptNo) throw new BackendError('ERR_BACKEND_PROTOCOL', `backend answered ${tag} with ${status} ${m[3]!.slice(0, 200)}`);
    return { status, text: m[3]! };
  }
}

function expectGreeting(line: string): string {
  if (/^\* OK\b/i.test(line)) return line;
  throw new BackendError('ERR_BACKEND_PROTOCOL', `unexpected backend greeting: ${line.slice(0, 200)}`);
}

function parseCapabilityCode(text: string): string | null {
  return /\[CAPABILITY ([^\]]*)\]/i.exec(text)?.[1] ?? null;
}

function quote(s: string): string {
  return s.includes('\\') || s.includes('"') ? `"${s.replace(/[\\"]/g, (ch) => `\\${ch}`)}"` : `"${s}"`;
}

/** `P2 ID (...)`, or null with no fields; with PROXY protocol the header already carries the client address. */
function idCommand(fields: ReadonlyArray<readonly [string, string]>, proxyProtocol: boolean): string | null {
  let line = '';
  for (const [k, v] of fields) {
    if (proxyProtocol && k.startsWith('x-originating-')) continue;
    line += `${line ? ' ' : ''}${quote(k)} ${quote(v)}`;
  }
  return line ? `P2 ID (${line})` : null;
}
