// The proxy with its app-password portal (LISTEN_PORTAL) in front of the test backend and
// IdP, the portal registered at the IdP as an OIDC client, and a browser sign-in helper.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { startBackendAndIdp } from './stack.js';
import { startProxy, type TestProxy } from './proxy.js';
import { freePorts } from './ports.js';
import type { Backend } from './backend.js';
import type { Idp } from './idp.js';
import { IDP_TEST_PASSWORD } from './idp-login.js';

export interface PortalStack {
  readonly backend: Backend;
  readonly idp: Idp;
  readonly proxy: TestProxy;
  /** PORTAL_URL: https://127.0.0.1:<port> */
  readonly url: string;
  readonly appPasswordsFile: string;
  readonly ca: string;
  /**
   * One more replica of the same deployment (same IdP client, PORTAL_URL and app-password
   * file), its portal on a port of its own, as a second instance behind one balancer.
   */
  replica(env?: Record<string, string>): Promise<{ proxy: TestProxy; port: number }>;
}

export async function startPortalStack(
  t: { teardown(fn: () => unknown): void },
  opts: { clientSecret?: string; env?: Record<string, string> } = {},
): Promise<PortalStack> {
  const { backend, idp } = await startBackendAndIdp(t);
  const dir = mkdtempSync(join(tmpdir(), 'o2mp-portal-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const [port] = await freePorts(1);
  const url = `https://127.0.0.1:${port}`;
  await idp.addClient({
    client_id: 'mail-portal',
    ...(opts.clientSecret ? { client_secret: opts.clientSecret } : { token_endpoint_auth_method: 'none' }),
    redirect_uris: [`${url}/callback`],
    grant_types: ['authorization_code'],
    response_types: ['code'],
  });
  const appPasswordsFile = join(dir, 'app-passwords.json');
  const start = async (listen: number, env: Record<string, string> = {}): Promise<TestProxy> => {
    const p = await startProxy({
      backend,
      userinfoUrl: idp.userinfoUrl,
      env: {
        APP_PASSWORDS_FILE: appPasswordsFile,
        LISTEN_PORTAL: `127.0.0.1:${listen}`,
        PORTAL_URL: url,
        PORTAL_CLIENT_ID: 'mail-portal',
        ...(opts.clientSecret ? { PORTAL_CLIENT_SECRET: opts.clientSecret } : {}),
        OAUTH2_ISSUER: idp.issuer,
        ...opts.env,
        ...env,
      },
    });
    t.teardown(() => p.stop());
    return p;
  };
  const proxy = await start(port!);
  const replica = async (env: Record<string, string> = {}) => {
    const [other] = await freePorts(1);
    return { proxy: await start(other!, env), port: other! };
  };
  const { readFileSync } = await import('node:fs');
  return { backend, idp, proxy, url, appPasswordsFile, ca: readFileSync(proxy.certs.caFile, 'utf8'), replica };
}

/** Signs `email` in through the IdP's login form; resolves with the page where the portal left the browser. */
export async function signIn(context: BrowserContext, url: string, email: string, password = IDP_TEST_PASSWORD): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${url}/`);
  await page.click('#sign-in');
  await page.waitForSelector('#email', { timeout: 10_000 });
  await page.fill('#email', email);
  await page.fill('#password', password);
  await Promise.all([page.waitForURL(`${url}/**`, { timeout: 15_000 }), page.click('#submit')]);
  await page.waitForLoadState('load');
  return page;
}
