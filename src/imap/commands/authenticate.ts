// AUTHENTICATE (RFC 9051 §6.2.2, SASL-IR RFC 4959): OAUTHBEARER, XOAUTH2, PLAIN, LOGIN.
// The exchange itself is the shared one (session/sasl-exchange.ts); this checks the command.
import { parseSaslMechanism } from '../../auth/sasl/index.js';
import { SASL_MECHANISMS } from '../capabilities.js';
import { argToString } from '../parser.js';
import { TEXT } from '../replies.js';
import type { CommandHandler } from './context.js';

// Not async: the refusals are answered at once, and the login's own promise is the
// command's (an async wrapper added a promise and a turn to every login, issue 21).
export const authenticate: CommandHandler = (ctx, cmd) => {
  const name = cmd.args[0] && argToString(cmd.args[0]);
  const ir = cmd.args[1];
  if (!name || cmd.args.length > 2 || (ir && ir.type !== 'atom')) return ctx.bad(cmd.tag, TEXT.syntax);
  if (!ctx.secure && !ctx.allowPlaintextAuth) return ctx.reply(cmd.tag, 'NO', TEXT.privacyRequired, 'PRIVACYREQUIRED');
  // ASCII case only (parseSaslMechanism): "plaın" must not become PLAIN.
  const mechanism = parseSaslMechanism(name);
  if (!mechanism || !(SASL_MECHANISMS as readonly string[]).includes(mechanism)) return ctx.reply(cmd.tag, 'NO', TEXT.unknownMechanism);
  return ctx.authenticate(cmd.tag, mechanism, ir ? argToString(ir)! : undefined);
};
