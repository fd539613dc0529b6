// Postfix's replies to a logged-in client, line by line, with the EHLO keywords a client never
// sees after login taken out (XCLIENT, XFORWARD: the proxy's privilege; CHUNKING: BDAT is not
// passed on). A continuation line is held until the next line shows whether it ends the reply,
// so that taking out the last keyword still leaves a well-formed final line.

/** EHLO keywords a client never sees after login. */
const HIDDEN_EHLO = /^(XCLIENT|XFORWARD|CHUNKING)(\s|$)/i;
/** A reply line: its code, and a dash for a continuation. */
export const REPLY_LINE = /^(\d{3})([ -]|\r?\n|$)/;

export class EhloFilter {
  /** The last continuation line of a multi-line reply, kept until the next line shows whether it ends the reply. */
  private heldContinuation: string | null = null;

  /** One reply line in; what to send on (EHLO keywords taken out, the last line's dash fixed). */
  line(line: string): string {
    const m = REPLY_LINE.exec(line);
    if (!m) return this.flush() + line;
    const final = m[2] !== '-';
    const hidden = m[1] === '250' && (this.heldContinuation !== null || !final) && HIDDEN_EHLO.test(line.slice(4));
    if (hidden) {
      if (!final || this.heldContinuation === null) return '';
      const last = this.heldContinuation;
      this.heldContinuation = null;
      return `${last.slice(0, 3)} ${last.slice(4)}`; // that line ends the reply now
    }
    const before = this.flush();
    if (final) return before + line;
    this.heldContinuation = line;
    return before;
  }

  /** The held continuation line, if any, to send as it is. */
  flush(): string {
    const h = this.heldContinuation ?? '';
    this.heldContinuation = null;
    return h;
  }
}
