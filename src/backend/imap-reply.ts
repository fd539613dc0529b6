// Reading Dovecot's IMAP replies during a backend login (RFC 3501 §7.1): the greeting, untagged
// lines, the tagged status and the response codes the login keeps. Pure: a line in, its parts
// or a BackendError out. Dovecot's own forms (`* OK [CAPABILITY …]`, `P3 OK [CAPABILITY …] Logged
// in`) are read with startsWith/indexOf; anything else falls to the regular expressions, which
// decide as they always did (issue 21: no regular expression per reply where startsWith does).
import { BackendError } from './dial.js';
import type { BackendLoginFailure } from './login-result.js';
import { cleartextRefusal } from './cleartext-refusal.js';

export interface TaggedReply { readonly status: 'OK' | 'NO' | 'BAD'; readonly text: string }

const CAPABILITY_CODE = '[CAPABILITY ';

/** The greeting line, if it is `* OK` (RFC 3501 §7.1.1); else the login fails. */
export function expectGreeting(line: string): string {
  if (line.startsWith('* OK ') || /^\* OK\b/i.test(line)) return line;
  throw new BackendError('ERR_BACKEND_PROTOCOL', `unexpected backend greeting: ${line.slice(0, 200)}`);
}

/**
 * The list inside the first `[CAPABILITY …]` response code of `text`, or null. `at`: where
 * Dovecot puts it, with no `[` before it in `text`.
 */
export function parseCapabilityCode(text: string, at = 0): string | null {
  if (text.startsWith(CAPABILITY_CODE, at)) {
    const end = text.indexOf(']', at + CAPABILITY_CODE.length);
    if (end >= 0) return text.slice(at + CAPABILITY_CODE.length, end);
  }
  return /\[CAPABILITY ([^\]]*)\]/i.exec(text)?.[1] ?? null;
}

/** The capabilities in a greeting (`* OK [CAPABILITY …] …`), or null. */
export const greetingCapabilities = (greeting: string): string | null => parseCapabilityCode(greeting, greeting.startsWith('* OK ') ? 5 : 0);

/** An untagged line during the login: a BYE ends it (RFC 3501 §7.1.5). */
export function checkUntagged(line: string): void {
  const c = line.charCodeAt(2);
  if ((c === 0x42 || c === 0x62) && /^\* BYE/i.test(line)) throw new BackendError('ERR_BACKEND_CLOSED', `backend said ${line.slice(0, 200)}`);
}

/** True for a character that \b in /(OK|NO|BAD)\b/ takes as the end of the word. */
const wordEnds = (c: number): boolean => !(c === 0x5f || (c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a));

/** `tag OK|NO|BAD[ text]` in upper case as Dovecot sends it, or null for the general reading. */
function fastTagged(line: string, tag: string): TaggedReply | null {
  if (!line.startsWith(tag) || line.charCodeAt(tag.length) !== 0x20) return null;
  const at = tag.length + 1;
  const status = line.startsWith('OK', at) ? 'OK' : line.startsWith('NO', at) ? 'NO' : line.startsWith('BAD', at) ? 'BAD' : null;
  if (status === null) return null;
  let from = at + status.length;
  if (from < line.length && !wordEnds(line.charCodeAt(from))) return null;
  if (line.charCodeAt(from) === 0x20) from += 1;
  // /(.*)$/ does not match across a line terminator: such a reply takes the general reading.
  if (line.indexOf('\r', from) >= 0 || line.indexOf('\u2028', from) >= 0 || line.indexOf('\u2029', from) >= 0) return null;
  return { status, text: line.slice(from) };
}

/** The tagged reply for `tag` (RFC 3501 §7.1); `acceptNo`: NO and BAD are answers, not a protocol break. */
export function taggedReply(line: string, tag: string, acceptNo: boolean): TaggedReply {
  let reply = fastTagged(line, tag);
  if (reply === null) {
    const m = /^(\S+) (OK|NO|BAD)\b ?(.*)$/i.exec(line);
    if (!m || m[1] !== tag) throw new BackendError('ERR_BACKEND_PROTOCOL', `unexpected backend reply to ${tag}`);
    reply = { status: m[2]!.toUpperCase() as TaggedReply['status'], text: m[3]! };
  }
  if (reply.status !== 'OK' && !acceptNo) throw new BackendError('ERR_BACKEND_PROTOCOL', `backend answered ${tag} with ${reply.status} ${reply.text.slice(0, 200)}`);
  return reply;
}

/** The reply line after the tagged wait's untagged lines and continuations are sorted out; null: untagged, read on. */
export function readTagged(line: string, tag: string, acceptNo: boolean): TaggedReply | null {
  if (line.startsWith('* ')) {
    checkUntagged(line);
    return null;
  }
  if (line.startsWith('+')) throw new BackendError('ERR_BACKEND_PROTOCOL', 'unexpected continuation from the backend');
  return taggedReply(line, tag, acceptNo);
}

/** `* CAPABILITY …` (RFC 3501 §7.2.1): its list, or null (also for an empty one). */
export function untaggedCapabilities(line: string): string | null {
  return /^\* CAPABILITY (.*)$/i.exec(line)?.[1] || null;
}

/** Codes of a tagged NO that say "not now", not "wrong credentials" (RFC 5530). */
const TEMPORARY = ['UNAVAILABLE', 'SERVERBUG', 'INUSE', 'LIMIT'];

/** The login's NO or BAD as a result: rejected, or unavailable and undecided for a temporary code. */
export function refusal(done: TaggedReply): BackendLoginFailure {
  const code = /^\[([^\]\s]+)/.exec(done.text)?.[1]?.toUpperCase();
  const reason = `backend answered ${done.status} ${done.text}`;
  if (code === 'PRIVACYREQUIRED') return cleartextRefusal(reason, 'DMS_TLS', code);
  if (code === undefined) return { ok: false, kind: 'rejected', reason };
  if (TEMPORARY.includes(code)) return { ok: false, kind: 'unavailable', reason, undecided: true, code };
  return { ok: false, kind: 'rejected', reason, code, ...(code === 'AUTHENTICATIONFAILED' ? { authenticationFailed: true } : {}) };
}
