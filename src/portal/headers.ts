// What every portal response carries, and the one way a page is sent. The page shows app
// passwords and, once, a secret: nothing may cache it, frame it, leak its URL or run script
// in it.
import type http from 'node:http';
import { STYLE_HASH } from './html.js';

/** HSTS for a year (RFC 6797); no includeSubDomains: other hosts of the domain are not ours to decide. */
const HSTS = 'max-age=31536000';

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  // No script, no images, no frames, no foreign forms: only our inline stylesheet and forms to ourselves.
  'content-security-policy': `default-src 'none'; style-src ${STYLE_HASH}; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`,
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'strict-transport-security': HSTS,
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  // Every page shows the user's data, and one shows a secret: none is stored anywhere (RFC 9111 §5.2.2.5).
  'cache-control': 'no-store',
};

export interface Reply {
  readonly status: number;
  readonly html?: string;
  readonly location?: string;
  readonly cookies?: readonly string[];
  readonly headers?: Readonly<Record<string, string>>;
}

export function send(res: http.ServerResponse, r: Reply): void {
  if (res.headersSent) return;
  const body = r.html ?? '';
  res.writeHead(r.status, {
    ...SECURITY_HEADERS,
    ...(r.html !== undefined ? { 'content-type': 'text/html; charset=utf-8' } : {}),
    'content-length': Buffer.byteLength(body),
    ...(r.location ? { location: r.location } : {}),
    ...(r.cookies?.length ? { 'set-cookie': [...r.cookies] } : {}),
    ...r.headers,
  });
  res.end(body);
}
