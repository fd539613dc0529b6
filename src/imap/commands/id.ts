// ID (RFC 2971): remember what the client says about itself, answer with our name.
import { argToString, type ImapArg } from '../parser.js';
import { TEXT } from '../replies.js';
import type { CommandHandler } from './context.js';
import { MAX_ID_FIELD_BYTES, MAX_ID_PAIRS, MAX_ID_VALUE_BYTES } from '../../limits.js';

const SAFE = /^[^\x00-\x1f\x7f"\\]*$/;

export const id: CommandHandler = (ctx, cmd) => {
  const arg = cmd.args[0];
  if (cmd.args.length !== 1 || !arg || (arg.type !== 'list' && arg.type !== 'nil')) return ctx.bad(cmd.tag, TEXT.syntax);
  ctx.setClientId(arg.type === 'list' ? clientFields(arg.items) : []);
  ctx.send('* ID ("name" "oauth2-mail-proxy")\r\n');
  ctx.reply(cmd.tag, 'OK', TEXT.id);
};

/** Keeps only well-formed, printable pairs; x-* fields are ours to set, never the client's. */
export function clientFields(items: readonly ImapArg[]): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let i = 0; i + 1 < items.length && out.length < MAX_ID_PAIRS; i += 2) {
    const field = argToString(items[i]!);
    const value = argToString(items[i + 1]!);
    if (field === undefined || value === undefined) continue;
    if (field.length > MAX_ID_FIELD_BYTES || value.length > MAX_ID_VALUE_BYTES) continue;
    if (!SAFE.test(field) || !SAFE.test(value) || field.toLowerCase().startsWith('x-')) continue;
    out.push([field.toLowerCase(), value]);
  }
  return out;
}
