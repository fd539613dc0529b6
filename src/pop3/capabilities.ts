// What the proxy lists for CAPA before login (RFC 2449 §5). After login the client may ask
// again and gets Dovecot's own list. TOP and UIDL are Dovecot's after login; they are listed
// here as Dovecot's pop3-login lists them, because clients (fetchmail) decide on UIDL from the
// first CAPA. SASL and USER only where a login may be tried (RFC 2595 §4: not before TLS).
export const SASL_MECHANISMS = ['OAUTHBEARER', 'XOAUTH2', 'PLAIN', 'LOGIN'] as const;

export interface CapabilityState {
  readonly secure: boolean;
  readonly canStartTls: boolean;
  readonly allowPlaintextAuth: boolean;
}

export function mayAuthenticate(s: CapabilityState): boolean {
  return s.secure || s.allowPlaintextAuth;
}

export function preauthCapabilities(s: CapabilityState): string[] {
  const caps = ['CAPA', 'TOP', 'UIDL', 'RESP-CODES', 'AUTH-RESP-CODE', 'PIPELINING'];
  if (s.canStartTls && !s.secure) caps.push('STLS');
  if (mayAuthenticate(s)) caps.push('USER', `SASL ${SASL_MECHANISMS.join(' ')}`);
  caps.push('IMPLEMENTATION oauth2-mail-proxy');
  return caps;
}
