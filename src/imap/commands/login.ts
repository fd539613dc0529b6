// LOGIN user password (RFC 9051 §6.2.3): always a password, passed through to the backend.
// The same caps as AUTHENTICATE PLAIN (RFC 4616: 255 bytes), so a password works with both.
import { MAX_FIELD_BYTES, SaslError, validateUsername } from '../../auth/sasl/index.js';
import { argToString } from '../parser.js';
import { TEXT } from '../replies.js';
import type { CommandHandler } from './context.js';

// Not async: the login settles the session itself (no promise per login, issue 21); only the
// malformed arguments' failure (its delay) is a promise.
export const login: CommandHandler = (ctx, cmd) => {
  const [u, p] = cmd.args;
  const username = u && argToString(u);
  const password = p && argToString(p);
  if (cmd.args.length !== 2 || username === undefined || password === undefined) return ctx.bad(cmd.tag, TEXT.syntax);
  if (!ctx.secure && !ctx.allowPlaintextAuth) return ctx.reply(cmd.tag, 'NO', TEXT.privacyRequired, 'PRIVACYREQUIRED');
  const valid = validateUsername(username);
  if (valid instanceof SaslError || !username || !password || /[\x00\r\n]/.test(password) || Buffer.byteLength(password) > MAX_FIELD_BYTES) {
    return ctx.authFailed(cmd.tag, 'LOGIN', 'malformed LOGIN arguments');
  }
  return ctx.login(cmd.tag, { kind: 'password', mechanism: 'LOGIN', authzid: undefined, username, password });
};
