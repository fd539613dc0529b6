// A browser or scanner speaking HTTP to a mail port (cross-protocol attacks): the session
// ends it at once instead of answering line by line (smtp-server does the same for SMTP).
const HTTP_REQUEST = /^(GET|HEAD|POST|PUT|DELETE|OPTIONS|TRACE|CONNECT|PATCH) \S+ HTTP\/\d\.\d$/i;

export function isHttpRequest(line: Buffer): boolean {
  return HTTP_REQUEST.test(line.toString('latin1'));
}
