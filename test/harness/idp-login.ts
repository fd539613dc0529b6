// The test IdP's interactive sign-in (oidc-provider's interaction routes), for browser tests
// of the authorization code flow: a minimal login form that checks a test account's e-mail
// and password, then consent given automatically for whatever the client asked. Tokens
// minted headless (idp.ts) do not come this way and are unchanged.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Provider } from 'oidc-provider';

export const IDP_TEST_PASSWORD = 'idp-test-password';

interface LoginAccount { readonly sub: string; readonly password?: string }

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function form(res: ServerResponse, uid: string, status: number, error = ''): void {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(`<!doctype html>
<html><head><title>Test IdP sign-in</title></head><body><h1>Test IdP</h1>${error ? `<p id="error">${esc(error)}</p>` : ''}
<form method="post" action="/interaction/${esc(uid)}/login">
<label>E-mail <input name="email" id="email" autocomplete="username"></label>
<label>Password <input name="password" id="password" type="password"></label>
<button type="submit" id="submit">Sign in</button></form></body></html>`);
}

async function body(req: IncomingMessage): Promise<URLSearchParams> {
  let text = '';
  for await (const chunk of req) {
    text += String(chunk);
    if (text.length > 8192) throw new Error('login form too large');
  }
  return new URLSearchParams(text);
}

/**
 * Handles /interaction/<uid> (GET: the form, or consent) and /interaction/<uid>/login
 * (POST); returns false for any other path. `provider()` is the current provider (rebuilt
 * by rotateKeys), `account(email)` finds a test account.
 */
export function interactionHandler(provider: () => Provider, account: (email: string) => LoginAccount | undefined) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const m = /^\/interaction\/([A-Za-z0-9_-]+)(\/login)?$/.exec(new URL(req.url ?? '/', 'http://x').pathname);
    if (!m) return false;
    const p = provider() as Provider & Record<string, any>; // interaction API: see oidc-provider's docs/README
    const details = await p.interactionDetails(req, res);
    if (m[2] && req.method === 'POST') {
      const f = await body(req);
      const a = account(f.get('email') ?? '');
      if (!a || f.get('password') !== (a.password ?? IDP_TEST_PASSWORD)) {
        form(res, m[1]!, 401, 'Wrong e-mail or password.');
        return true;
      }
      await p.interactionFinished(req, res, { login: { accountId: a.sub } }, { mergeWithLastSubmission: false });
      return true;
    }
    if (details.prompt.name === 'login') {
      form(res, m[1]!, 200);
      return true;
    }
    // Consent: grant what was asked (a test client is trusted).
    const missing = details.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[]; missingResourceScopes?: Record<string, string[]> };
    const grant = details.grantId ? await p.Grant.find(details.grantId) : new p.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) grant.addResourceScope(indicator, scopes.join(' '));
    const grantId: string = await grant.save();
    await p.interactionFinished(req, res, { consent: details.grantId ? {} : { grantId } }, { mergeWithLastSubmission: true });
    return true;
  };
}
