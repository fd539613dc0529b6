// The ManageSieve commands before login (RFC 5804 §2): which exist and what each checks.
// Handlers never touch the socket; the session writes, upgrades TLS and logs in. Anything
// else is refused with NO and counts toward the bad-command budget; after the login every
// command goes to Dovecot unread.
import { parseSaslMechanism, type SaslMechanism } from '../auth/sasl/index.js';
import { SASL_MECHANISMS, type CapabilityState } from './capabilities.js';
import { argText, quote, type SieveCommand } from './parser.js';
import { TEXT, type SieveCode } from './replies.js';
import { MAX_SIEVE_NOOP_TAG_BYTES } from '../limits.js';

export interface SieveContext extends CapabilityState {
  /** The capability lines, without the closing OK. */
  capabilityLines(): string;
  send(line: string): void;
  reply(status: 'OK' | 'NO', text: string, code?: SieveCode): void;
  /** NO, counted toward the bad-command budget. */
  bad(text: string): void;
  startTls(): void;
  logout(): void;
  /** The SASL exchange (`initial`: the initial response as base64 text), then the login and its reply. */
  authenticate(mechanism: SaslMechanism, initial: string | undefined): Promise<void>;
}

type Handler = (ctx: SieveContext, cmd: SieveCommand) => void | Promise<void>;

const capability: Handler = (ctx, cmd) => {
  if (cmd.args.length) return ctx.bad(TEXT.syntax);
  ctx.send(ctx.capabilityLines());
  ctx.reply('OK', TEXT.capability);
};

// RFC 5804 §2.14: NOOP [tag]; the tag comes back in a TAG response code.
const noop: Handler = (ctx, cmd) => {
  const tag = cmd.args[0];
  if (cmd.args.length > 1 || (tag && tag.type !== 'string')) return ctx.bad(TEXT.syntax);
  const text = argText(tag);
  if (text !== undefined && (text.length > MAX_SIEVE_NOOP_TAG_BYTES || !/^[\x20-\x7e]*$/.test(text))) return ctx.bad(TEXT.syntax);
  ctx.reply('OK', TEXT.noop, text !== undefined ? `TAG ${quote(text)}` as SieveCode : undefined);
};

const logout: Handler = (ctx, cmd) => (cmd.args.length ? ctx.bad(TEXT.syntax) : ctx.logout());

const starttls: Handler = (ctx, cmd) => {
  if (cmd.args.length) return ctx.bad(TEXT.syntax);
  if (ctx.secure) return ctx.bad(TEXT.tlsActive);
  if (!ctx.canStartTls) return ctx.bad(TEXT.tlsUnavailable);
  ctx.startTls();
};

// RFC 5804 §2.1: AUTHENTICATE auth-type [initial-response], both strings.
const authenticate: Handler = async (ctx, cmd) => {
  const [mech, initial] = cmd.args;
  const name = argText(mech);
  if (!name || cmd.args.length > 2 || (initial && initial.type !== 'string')) return ctx.bad(TEXT.syntax);
  // The proxy refuses any credential in the clear: TLS first (STARTTLS is offered).
  if (!ctx.secure && !ctx.allowPlaintextAuth) return ctx.reply('NO', TEXT.encryptNeeded, 'ENCRYPT-NEEDED');
  // ASCII case only (parseSaslMechanism): "plaın" must not become PLAIN.
  const mechanism = parseSaslMechanism(name);
  if (!mechanism || !(SASL_MECHANISMS as readonly string[]).includes(mechanism)) return ctx.reply('NO', TEXT.unknownMechanism);
  await ctx.authenticate(mechanism, initial ? argText(initial) : undefined);
};

export const PREAUTH_COMMANDS: ReadonlyMap<string, Handler> = new Map([
  ['CAPABILITY', capability],
  ['NOOP', noop],
  ['LOGOUT', logout],
  ['STARTTLS', starttls],
  ['AUTHENTICATE', authenticate],
]);

/** Commands of a logged-in client (RFC 5804 §2.3–2.13): a clear "authenticate first". */
export const POSTAUTH_COMMANDS = new Set([
  'HAVESPACE', 'PUTSCRIPT', 'LISTSCRIPTS', 'SETACTIVE', 'GETSCRIPT', 'DELETESCRIPT', 'RENAMESCRIPT', 'CHECKSCRIPT', 'UNAUTHENTICATE',
]);
