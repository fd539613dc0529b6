// CAPABILITY, NOOP, LOGOUT, STARTTLS: commands without arguments.
import { preauthCapabilities } from '../capabilities.js';
import { TEXT } from '../replies.js';
import type { CommandHandler } from './context.js';

export const capability: CommandHandler = (ctx, cmd) => {
  ctx.send(`* CAPABILITY ${preauthCapabilities(ctx)}\r\n`);
  ctx.reply(cmd.tag, 'OK', TEXT.capability);
};

export const noop: CommandHandler = (ctx, cmd) => ctx.reply(cmd.tag, 'OK', TEXT.noop);

export const logout: CommandHandler = (ctx, cmd) => ctx.logout(cmd.tag);

export const starttls: CommandHandler = (ctx, cmd) => {
  if (ctx.secure) return ctx.bad(cmd.tag, TEXT.tlsActive);
  if (!ctx.canStartTls) return ctx.bad(cmd.tag, TEXT.tlsUnavailable);
  ctx.startTls(cmd.tag);
};
