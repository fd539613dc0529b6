// What the proxy advertises before login. After login the client gets the backend's own
// list in the tagged OK (RFC 9051 §7.1 CAPABILITY response code), so IDLE, MOVE and the rest
// come from Dovecot, not from us.
export const SASL_MECHANISMS = ['PLAIN', 'LOGIN', 'OAUTHBEARER', 'XOAUTH2'] as const;

export interface CapabilityState {
  readonly secure: boolean;
  readonly canStartTls: boolean;
  readonly allowPlaintextAuth: boolean;
}

// Every greeting and CAPABILITY reply asks for one of four lists: built once each.
const lists = new Map<number, string>();

export function preauthCapabilities(s: CapabilityState): string {
  const key = (s.canStartTls && !s.secure ? 1 : 0) | (s.secure || s.allowPlaintextAuth ? 2 : 0);
  let list = lists.get(key);
  if (list === undefined) lists.set(key, list = capabilityList(s));
  return list;
}

function capabilityList(s: CapabilityState): string {
  const caps = ['IMAP4rev1', 'SASL-IR', 'ID', 'LITERAL+'];
  if (s.canStartTls && !s.secure) caps.push('STARTTLS');
  if (s.secure || s.allowPlaintextAuth) caps.push(...SASL_MECHANISMS.map((m) => `AUTH=${m}`));
  else caps.push('LOGINDISABLED'); // RFC 3501 §6.2.3 / RFC 9051 §6.2.3
  return caps.join(' ');
}
