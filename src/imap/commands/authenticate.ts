// AUTHENTICATE (RFC 9051 §6.2.2, SASL-IR RFC 4959): OAUTHBEARER, XOAUTH2, PLAIN, LOGIN.
import {
  decodeBase64Response, decodeLoginStep, decodeSaslResponse, LOGIN_PASSWORD_PROMPT, LOGIN_USERNAME_PROMPT, parseSaslMechanism, SaslError,
  type SaslCredentials,
} from '../../auth/sasl/index.js';
import { SASL_MECHANISMS } from '../capabilities.js';
import { argToString } from '../parser.js';
import { TEXT } from '../replies.js';
import type { CommandHandler, ImapContext } from './context.js';

type Mechanism = (typeof SASL_MECHANISMS)[number];

export const authenticate: CommandHandler = async (ctx, cmd) => {
  const name = cmd.args[0] && argToString(cmd.args[0]);
  const ir = cmd.args[1];
  if (!name || cmd.args.length > 2 || (ir && ir.type !== 'atom')) return ctx.bad(cmd.tag, TEXT.syntax);
  if (!ctx.secure && !ctx.allowPlaintextAuth) return ctx.reply(cmd.tag, 'NO', TEXT.privacyRequired, 'PRIVACYREQUIRED');
  // ASCII case only (parseSaslMechanism): "plaın" must not become PLAIN.
  const mechanism = parseSaslMechanism(name);
  if (!mechanism || !(SASL_MECHANISMS as readonly string[]).includes(mechanism)) return ctx.reply(cmd.tag, 'NO', TEXT.unknownMechanism);

  let creds: SaslCredentials | null;
  try {
    creds = await readCredentials(ctx, mechanism as Mechanism, ir ? argToString(ir)! : undefined);
  } catch (err) {
    if (!(err instanceof SaslError)) throw err;
    if (err.code === 'ERR_SASL_BASE64' || err.code === 'ERR_SASL_TOO_LONG') return ctx.bad(cmd.tag, TEXT.badSasl);
    return ctx.authFailed(cmd.tag, mechanism, `malformed ${mechanism} response (${err.code})`);
  }
  if (creds === null) return ctx.reply(cmd.tag, 'BAD', TEXT.authAborted);
  // Token mechanisms answer a failure with an error challenge first (RFC 7628 §3.2.2).
  await ctx.login(cmd.tag, creds, { challenge: creds.kind === 'token' });
};

async function readCredentials(ctx: ImapContext, mechanism: Mechanism, initial: string | undefined): Promise<SaslCredentials | null> {
  const first = initial !== undefined ? decodeBase64Response(initial) : await response(ctx, mechanism === 'LOGIN' ? LOGIN_USERNAME_PROMPT : '');
  if (first === null) return null;
  if (mechanism !== 'LOGIN') return decodeSaslResponse(mechanism, first);
  // LOGIN (draft-murchison-sasl-login): user name, then password, each its own step.
  const password = await response(ctx, LOGIN_PASSWORD_PROMPT);
  if (password === null) return null;
  return decodeLoginStep(first, password);
}

async function response(ctx: ImapContext, prompt: string): Promise<Buffer | null> {
  const line = await ctx.continuation(prompt);
  return line === null ? null : decodeBase64Response(line);
}
