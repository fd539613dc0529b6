// What the proxy logs in to DMS with, and its SASL PLAIN encoding (RFC 4616:
// authzid NUL authcid NUL passwd), shared by the IMAP and SMTP backends.
export type BackendCredentials =
  /** A token user: the Dovecot master account acting for `user` (REFERENCE: DMS master users). */
  | { readonly kind: 'master'; readonly user: string; readonly masterUser: string; readonly masterPassword: string }
  /** A password user: their own credentials (pass-through). */
  | { readonly kind: 'password'; readonly authzid: string | undefined; readonly username: string; readonly password: string };

export function saslPlain(c: BackendCredentials): string {
  const parts = c.kind === 'master' ? [c.user, c.masterUser, c.masterPassword] : [c.authzid ?? '', c.username, c.password];
  return Buffer.from(parts.join('\0'), 'utf8').toString('base64');
}
