// What the proxy logs in to DMS with, and its SASL PLAIN encoding (RFC 4616:
// authzid NUL authcid NUL passwd), shared by the IMAP and SMTP backends.
export type BackendCredentials =
  /** A token user: the Dovecot master account acting for `user` (REFERENCE: DMS master users). */
  | { readonly kind: 'master'; readonly user: string; readonly masterUser: string; readonly masterPassword: string }
  /** A password user: their own credentials (pass-through). */
  | { readonly kind: 'password'; readonly authzid: string | undefined; readonly username: string; readonly password: string };

/** SASL PLAIN's message, base64 (one string, no array and join: issue 21). */
export function saslPlainOf(authzid: string, authcid: string, password: string): string {
  return Buffer.from(`${authzid}\0${authcid}\0${password}`, 'utf8').toString('base64');
}

export function saslPlain(c: BackendCredentials): string {
  return c.kind === 'master' ? saslPlainOf(c.user, c.masterUser, c.masterPassword) : saslPlainOf(c.authzid ?? '', c.username, c.password);
}
