// postfix-virtual.cf: `alias@domain target@domain[,target...]` per line (DMS's setup alias
// add). The proxy writes exactly `alias mailbox` for a user's extra addresses and removes
// only such lines it wrote.
import { appendLine, content, isComment, splitLines } from './lines.js';
import { asciiLower } from '../../auth/address.js';

export const VIRTUAL_FILE = 'postfix-virtual.cf';

const sourceOf = (line: string): string | null =>
  (isComment(line) ? null : asciiLower(content(line).split(/\s+/, 1)[0]!));

const ownLine = (alias: string, mailbox: string): string => `${alias} ${mailbox}`;

/** Lower-cased alias (source) addresses with the exact content of their lines. */
export function aliasLines(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of splitLines(text)) {
    const s = sourceOf(line);
    if (s) out.set(s, [...(out.get(s) ?? []), content(line)]);
  }
  return out;
}

/** True when the file has exactly the line the proxy would write for this alias. */
export function hasOwnLine(text: string, alias: string, mailbox: string): boolean {
  return splitLines(text).some((l) => content(l) === ownLine(alias, mailbox));
}

export function addAlias(text: string, alias: string, mailbox: string): string {
  return appendLine(text, ownLine(alias, mailbox));
}

export function removeAlias(text: string, alias: string, mailbox: string): string {
  const own = ownLine(alias, mailbox);
  return splitLines(text).filter((l) => content(l) !== own).join('');
}
