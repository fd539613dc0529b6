// The POP3 commands before login (RFC 1939 §4, RFC 2449 CAPA, RFC 2595 STLS, RFC 5034 AUTH),
// one table. Handlers decide what to say; the session writes, reads continuations, upgrades
// TLS and logs in (STYLE: wildduck imap-core).
import { MAX_FIELD_BYTES, parseSaslMechanism, SaslError, validateUsername, type SaslCredentials, type SaslMechanism } from '../auth/sasl/index.js';
import { mayAuthenticate, preauthCapabilities, SASL_MECHANISMS, type CapabilityState } from './capabilities.js';
import { err, multiline, ok, TEXT } from './replies.js';

export interface Pop3Context extends CapabilityState {
  send(line: string): void;
  /** An invalid command: the reply, counted toward the bad-command budget. */
  bad(text: string): void;
  /** USER's name, waiting for PASS (RFC 1939 §7); null when none. */
  pendingUser: string | null;
  startTls(): void;
  quit(): void;
  /** The SASL exchange (`initial`: the initial response, RFC 5034 §4), then as login(). */
  authenticate(mechanism: SaslMechanism, initial: string | undefined): Promise<void>;
  /** Decides on the credentials, logs in to the backend, and replies (or splices). */
  login(creds: SaslCredentials): Promise<void>;
  /** A login the handler found malformed: counted, logged and answered as a failed login. */
  authFailed(mechanism: string, reason: string): Promise<void>;
}

/** `args`: the rest of the line after the command and one space, as the client sent it. */
export type Pop3Handler = (ctx: Pop3Context, args: Buffer) => void | Promise<void>;

const capa: Pop3Handler = (ctx) => ctx.send(multiline(TEXT.capa, preauthCapabilities(ctx)));

const quit: Pop3Handler = (ctx) => ctx.quit();

const stls: Pop3Handler = (ctx, args) => {
  if (args.length) return ctx.bad(TEXT.syntax);
  if (ctx.secure) return ctx.send(err(TEXT.tlsActive));
  if (!ctx.canStartTls) return ctx.bad(TEXT.tlsUnavailable);
  ctx.startTls();
};

const auth: Pop3Handler = async (ctx, args) => {
  if (!mayAuthenticate(ctx)) return ctx.send(err(TEXT.privacyRequired, 'AUTH'));
  // AUTH alone: the mechanism list, as Dovecot answers it (old Outlook asks this way; RFC 1734 had no such form).
  if (!args.length) return ctx.send(multiline(TEXT.authMechanisms, SASL_MECHANISMS));
  const [name, ir, ...more] = args.toString('latin1').split(' ');
  if (!name || more.length || ir === '') return ctx.bad(TEXT.syntax);
  // ASCII case only (parseSaslMechanism): "plaın" must not become PLAIN.
  const mechanism = parseSaslMechanism(name);
  if (!mechanism) return ctx.send(err(TEXT.unknownMechanism));
  // RFC 5034 §4: "=" is an empty initial response.
  await ctx.authenticate(mechanism, ir === undefined ? undefined : ir === '=' ? '' : ir);
};

const user: Pop3Handler = (ctx, args) => {
  if (!mayAuthenticate(ctx)) return ctx.send(err(TEXT.privacyRequired, 'AUTH'));
  if (!args.length) return ctx.bad(TEXT.syntax);
  ctx.pendingUser = args.toString('utf8');
  ctx.send(ok(TEXT.userOk));
};

// PASS: the rest of the line is the password, spaces included (RFC 1939 §7). The same caps as
// AUTH PLAIN (RFC 4616: 255 bytes), so a password works with both.
const pass: Pop3Handler = async (ctx, args) => {
  if (!mayAuthenticate(ctx)) return ctx.send(err(TEXT.privacyRequired, 'AUTH'));
  const username = ctx.pendingUser;
  ctx.pendingUser = null;
  if (username === null) return ctx.bad(TEXT.noUser);
  const password = args.toString('utf8');
  const valid = validateUsername(username);
  if (valid instanceof SaslError || !username || !password || args.includes(0) || Buffer.byteLength(password) > MAX_FIELD_BYTES) {
    return ctx.authFailed('LOGIN', 'malformed USER/PASS arguments');
  }
  await ctx.login({ kind: 'password', mechanism: 'LOGIN', authzid: undefined, username, password });
};

export const PREAUTH_COMMANDS: ReadonlyMap<string, Pop3Handler> = new Map([
  ['CAPA', capa],
  ['QUIT', quit],
  ['STLS', stls],
  ['AUTH', auth],
  ['USER', user],
  ['PASS', pass],
]);

/** Commands of the TRANSACTION state (RFC 1939 §5): a clear "log in first" instead of "unknown". */
export const POSTAUTH_COMMANDS = new Set(['STAT', 'LIST', 'RETR', 'DELE', 'NOOP', 'RSET', 'TOP', 'UIDL', 'LAST']);
