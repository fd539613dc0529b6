// ASCII-only case folding and trimming, the way Dovecot folds user names (auth_username_format
// %Lu; str_lcase is byte-wise). JavaScript's toLowerCase() follows Unicode: it maps KELVIN SIGN
// (U+212A) to "k", so "\u212Aate@x" would become another person's "kate@x" (issue 16), and
// toUpperCase() maps "ı" to "I" and "ſ" to "S" the same way. Pure text, no imports: config/
// folds domains with it as auth/ folds addresses, so it lives on the bottom floor.

// Each first tests whether there is anything to change: a global replace() goes through V8's
// runtime even when nothing matches, and these run on every login (issue 21). A string with
// no non-ASCII character folds the same with toLowerCase()/toUpperCase() in one native call,
// instead of a callback per letter (an OAUTHBEARER initial response has hundreds).
const UPPER = /[A-Z]/;
const LOWER = /[a-z]/;
const NON_ASCII = /[^\x00-\x7f]/;
const BLANK_ENDS = /^[ \t\r\n\v\f]|[ \t\r\n\v\f]$/;

/** Lower-cases A-Z only; every other character is kept as it is. */
export function asciiLower(s: string): string {
  if (!UPPER.test(s)) return s;
  if (!NON_ASCII.test(s)) return s.toLowerCase();
  return s.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) | 0x20));
}

/** Upper-cases a-z only (protocol keywords: RFC 5234 §2.3 strings are ASCII-case-insensitive). */
export function asciiUpper(s: string): string {
  if (!LOWER.test(s)) return s;
  if (!NON_ASCII.test(s)) return s.toUpperCase();
  return s.replace(/[a-z]/g, (c) => String.fromCharCode(c.charCodeAt(0) & ~0x20));
}

/** Removes ASCII blanks (SP, HT, CR, LF, VT, FF) at both ends; Unicode spaces are kept, and then refused. */
export function asciiTrim(s: string): string {
  if (!BLANK_ENDS.test(s)) return s;
  return s.replace(/^[ \t\r\n\v\f]+|[ \t\r\n\v\f]+$/g, '');
}
