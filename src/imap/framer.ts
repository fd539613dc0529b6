// The IMAP command framer: the literal framer (net/literal-framer.ts) naming each command's
// tag in its errors, so a refused line is answered `<tag> BAD` (RFC 9051 §7.1.5).
import { LiteralFramer, type FramerLimits } from '../net/literal-framer.js';
import { peekTag } from './parser.js';

export type { FramerErrorCode, FramerEvent, FramerLimits } from '../net/literal-framer.js';

export class ImapFramer extends LiteralFramer {
  constructor(limits: FramerLimits) {
    // Field by field: a spread followed by a field took V8's slow path on every connection.
    super({ maxLineBytes: limits.maxLineBytes, maxLiteralBytes: limits.maxLiteralBytes, maxBufferedBytes: limits.maxBufferedBytes, tagOf: peekTag });
  }
}
