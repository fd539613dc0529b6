// ASCII-only case folding and trimming, the way Dovecot folds user names (auth_username_format
// %Lu; str_lcase is byte-wise). JavaScript's toLowerCase() follows Unicode: it maps KELVIN SIGN
// (U+212A) to "k", so "\u212Aate@x" would become another person's "kate@x" (issue 16), and
// toUpperCase() maps "ı" to "I" and "ſ" to "S" the same way. Pure text, no imports: config/
// folds domains with it as auth/ folds addresses, so it lives on the bottom floor.

/** Lower-cases A-Z only; every other character is kept as it is. */
export function asciiLower(s: string): string {
  return s.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) | 0x20));
}

/** Upper-cases a-z only (protocol keywords: RFC 5234 §2.3 strings are ASCII-case-insensitive). */
export function asciiUpper(s: string): string {
  return s.replace(/[a-z]/g, (c) => String.fromCharCode(c.charCodeAt(0) & ~0x20));
}

/** Removes ASCII blanks (SP, HT, CR, LF, VT, FF) at both ends; Unicode spaces are kept, and then refused. */
export function asciiTrim(s: string): string {
  return s.replace(/^[ \t\r\n\v\f]+|[ \t\r\n\v\f]+$/g, '');
}
