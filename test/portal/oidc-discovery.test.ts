// The portal's OIDC discovery while the IdP is down: a failure is kept for a while, so sign-in
// page loads do not each become a request to the IdP; after that it is asked again, and once
// it answers, sign-in works. A fake IdP (fault injection: it fails on purpose, then serves a
// discovery document) counts the requests.
import t from 'tap';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { PortalOidc } from '../../src/portal/oidc.js';
import type { PortalConfig } from '../../src/config/types.js';

t.test('a failed discovery is kept for the retry time, then retried', async (t) => {
  let requests = 0;
  let up = false;
  const server = http.createServer((_req, res) => {
    requests += 1;
    if (!up) return void res.writeHead(500).end();
    const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({
      issuer, authorization_endpoint: `${issuer}/auth`, token_endpoint: `${issuer}/token`, jwks_uri: `${issuer}/jwks`,
      response_types_supported: ['code'], subject_types_supported: ['public'], id_token_signing_alg_values_supported: ['RS256'],
    }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const config = { issuer, clientId: 'portal', clientSecret: '', redirectUri: 'https://mail.example.test/callback', scopes: ['openid', 'email'] } as unknown as PortalConfig;
  const oidc = new PortalOidc(config, 2000, 400);

  await t.rejects(oidc.begin(), 'the IdP fails: begin() fails');
  t.equal(requests, 1);
  for (let i = 0; i < 5; i++) await t.rejects(oidc.begin(), 'within the retry time: the failure again');
  t.equal(requests, 1, 'no further request to the IdP within the retry time');
  up = true;
  await t.rejects(oidc.begin(), 'still within the retry time: not asked yet though it is up');
  await sleep(500);
  const start = await oidc.begin();
  t.equal(requests, 2, 'asked again once the retry time is over');
  t.match(start.url, `${issuer}/auth?`, 'and sign-in goes on');
  await oidc.begin();
  t.equal(requests, 2, 'a found configuration is kept');
});
