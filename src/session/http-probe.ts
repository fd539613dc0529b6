// A browser or scanner speaking HTTP to a mail port (cross-protocol attacks): the session
// ends it at once instead of answering line by line (smtp-server does the same for SMTP).
const HTTP_REQUEST = /^(GET|HEAD|POST|PUT|DELETE|OPTIONS|TRACE|CONNECT|PATCH) \S+ HTTP\/\d\.\d$/i;

// The shortest match, "GET / HTTP/1.1".
const MIN_REQUEST_LINE = 14;
const SLASH = 0x2f;
const DOT = 0x2e;

export function isHttpRequest(line: Buffer): boolean {
  // Only a line ending in "/d.d" can match: every other command (an AUTHENTICATE line of
  // ~1 KiB on every login) is not decoded to a string for the pattern (issue 21).
  const n = line.length;
  if (n < MIN_REQUEST_LINE || line[n - 4] !== SLASH || line[n - 2] !== DOT) return false;
  return HTTP_REQUEST.test(line.toString('latin1'));
}
