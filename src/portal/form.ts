// A POST from the portal's own page, and nothing else: same origin, a form body of bounded
// size. A browser's POST carries Sec-Fetch-Site (Fetch Metadata) and, unless the page's
// referrer policy hides it, Origin; a foreign site's form shows itself in either. The
// session's CSRF token (routes.ts) is checked on top, for clients that send neither header.
import type http from 'node:http';
import { PORTAL_MAX_BODY_BYTES } from '../limits.js';

export class FormError extends Error {
  readonly code = 'ERR_PORTAL_FORM';
  constructor(readonly status: 400 | 403 | 413 | 415, message: string) {
    super(message);
  }
}

/** Throws FormError(403) for a request that says it comes from another site. */
export function checkSameOrigin(req: http.IncomingMessage, origin: string): void {
  const o = req.headers.origin;
  // `Origin: null` is what a page with Referrer-Policy no-referrer (ours) sends on POST (Fetch §3.1).
  if (o !== undefined && o !== 'null' && o !== origin) throw new FormError(403, 'cross-origin request');
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin') throw new FormError(403, 'cross-site request');
}

/** The fields of an application/x-www-form-urlencoded body of at most PORTAL_MAX_BODY_BYTES. */
export async function readForm(req: http.IncomingMessage): Promise<URLSearchParams> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') throw new FormError(415, 'expected a form (application/x-www-form-urlencoded)');
  if (Number(req.headers['content-length'] ?? 0) > PORTAL_MAX_BODY_BYTES) throw new FormError(413, 'form too large');
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > PORTAL_MAX_BODY_BYTES) throw new FormError(413, 'form too large');
      chunks.push(chunk as Buffer);
    }
  } catch (err) {
    if (err instanceof FormError) throw err;
    throw new FormError(400, 'the request body ended early');
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}
