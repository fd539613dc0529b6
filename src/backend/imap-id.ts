// The IMAP ID command (RFC 2971) a backend login sends first: who the client is (Dovecot trusts
// x-originating-* from login_trusted_networks: its rip=, logs and auth penalty land on the
// client), our session id, then what the client said in its own ID.
import type { BackendClient } from './login-result.js';

/** An IMAP quoted string (RFC 3501 §4.3): `"` and `\` escaped. */
export function quote(s: string): string {
  return s.includes('\\') || s.includes('"') ? `"${s.replace(/[\\"]/g, (ch) => `\\${ch}`)}"` : `"${s}"`;
}

/** `P2 ID (...)` from field pairs, or null with none; with PROXY protocol the header already carries the client address. */
export function idCommand(fields: ReadonlyArray<readonly [string, string]>, proxyProtocol: boolean): string | null {
  let line = '';
  for (const [k, v] of fields) {
    if (proxyProtocol && k.startsWith('x-originating-')) continue;
    line += `${line ? ' ' : ''}${quote(k)} ${quote(v)}`;
  }
  return line ? `P2 ID (${line})` : null;
}

/**
 * The same line as idCommand(idFieldsFor(client)) (targets.ts), built in one pass without the
 * pairs (issue 21: a login's allocations). Port 0 means "not known" and is left out
 * (client-address.ts: Dovecot 2.4 refuses it).
 */
export function imapIdLine(c: BackendClient, proxyProtocol: boolean): string {
  let line = '';
  if (!proxyProtocol) {
    line = `"x-originating-ip" ${quote(c.address)} `;
    if (c.port > 0) line += `"x-originating-port" "${c.port}" `;
  }
  line += `"x-connected-ip" ${quote(c.localAddress)}`;
  if (c.localPort > 0) line += ` "x-connected-port" "${c.localPort}"`;
  if (c.sessionId) line += ` "x-session-ext-id" ${quote(c.sessionId)}`;
  const fields = c.idFields;
  if (fields) {
    for (let i = 0; i < fields.length; i++) {
      const [k, v] = fields[i]!;
      if (proxyProtocol && k.startsWith('x-originating-')) continue;
      line += ` ${quote(k)} ${quote(v)}`;
    }
  }
  return `P2 ID (${line})`;
}
