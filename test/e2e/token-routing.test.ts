// Where a token may go (issue 16, items 7 and 8), end to end: real clients -> proxy -> real
// Dovecot, tokens from real oidc-provider instances. In mode auto with an audience, an opaque
// token must prove it at introspection, and a JWT with "=" appended is still checked as a
// JWT. With several issuers, an opaque token goes only to the issuer configured to receive it:
// a bearer token of one IdP is never shown to another.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readConfigFile } from '../../src/config/load.js';
import { startBackend } from '../harness/backend.js';
import { DEFAULT_AUDIENCE, startIdp, type Idp } from '../harness/idp.js';
import { startProxy, type TestProxy } from '../harness/proxy.js';
import { RawClient, oauthbearer } from '../harness/raw-imap.js';

const backend = await startBackend();
t.teardown(() => backend.stop());
const alice = backend.users[0]!;
const secrets: string[] = [alice.password, backend.master.password];
const dir = mkdtempSync(join(tmpdir(), 'omp-routing-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

async function idpStarted(): Promise<Idp> {
  const idp = await startIdp();
  t.teardown(() => idp.stop());
  secrets.push(idp.introspectionClient.clientSecret);
  return idp;
}

async function proxy(opts: { env?: Record<string, string>; yaml?: string; userinfoUrl: string }): Promise<TestProxy> {
  let file;
  if (opts.yaml) {
    const f = join(dir, `config-${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(f, opts.yaml);
    file = readConfigFile(f);
  }
  const p = await startProxy({ backend, userinfoUrl: opts.userinfoUrl, env: { OAUTH2_NEGATIVE_CACHE_SECONDS: '0', ...opts.env }, file });
  t.teardown(() => p.stop());
  return p;
}

/** OAUTHBEARER as alice; the tagged reply (an error challenge is answered with AQ==). */
async function login(p: TestProxy, token: string): Promise<string> {
  secrets.push(token);
  const c = await RawClient.connect(p.imapsPort, { implicitTls: true, ca: readFileSync(p.certs.caFile, 'utf8') });
  try {
    await c.line();
    c.write(`a1 AUTHENTICATE OAUTHBEARER ${oauthbearer(alice.email, token)}\r\n`);
    const first = await c.line(8000);
    if (!first.startsWith('+')) return first;
    c.write('AQ==\r\n');
    return (await c.until('a1', 8000)).tagged;
  } finally {
    c.close();
  }
}

t.test('mode auto with an audience: opaque tokens must prove it; a padded JWT is still a JWT', async (t) => {
  const idp = await idpStarted();
  const p = await proxy({
    userinfoUrl: idp.userinfoUrl,
    env: {
      OAUTH2_INTROSPECTION_MODE: 'auto', OAUTH2_INTROSPECTION_URL: idp.introspectionUrl, OAUTH2_ISSUER: idp.issuer, OAUTH2_AUDIENCE: DEFAULT_AUDIENCE,
      OAUTH2_CLIENT_ID: idp.introspectionClient.clientId, OAUTH2_CLIENT_SECRET: idp.introspectionClient.clientSecret,
    },
  });
  t.match(await login(p, await idp.mintToken(alice.email)), /^a1 NO \[AUTHENTICATIONFAILED\]/, 'opaque token, introspection names no audience');
  t.match(await login(p, await idp.mintToken(alice.email, { audience: 'https://other.example' })), /^a1 NO \[AUTHENTICATIONFAILED\]/, 'opaque token for another audience');
  t.match(await login(p, await idp.mintToken(alice.email, { audience: DEFAULT_AUDIENCE })), /^a1 OK /, 'opaque token for us');
  const wrong = await idp.mintJwt(alice.email, { audience: 'https://other.example' });
  const before = idp.counts.introspection;
  for (const form of [wrong, `${wrong}=`, `${wrong}==`]) t.match(await login(p, form), /^a1 NO \[AUTHENTICATIONFAILED\]/, `JWT for another audience, ${form.slice(-2)}`);
  t.equal(idp.counts.introspection, before, 'none of them went to introspection');
  t.match(await login(p, await idp.mintJwt(alice.email)), /^a1 OK /, 'control: a JWT for us');
  const reasons = p.logs().filter((l) => l.event === 'auth-failed').map((l) => String(l.reason));
  t.ok(reasons.some((r) => /audience \(none\) not accepted/.test(r)), 'the missing audience is the logged reason');
  t.ok(reasons.some((r) => /not a compact JWS/.test(r)), 'so is the padded JWT');
});

t.test('several issuers: an opaque token goes only to the issuer configured for it', async (t) => {
  const [a, b] = [await idpStarted(), await idpStarted()];
  const item = (name: string, idp: Idp, extra = '') => `  - name: ${name}
    introspection_mode: post
    introspection_url: ${idp.introspectionUrl}
    client_id: ${idp.introspectionClient.clientId}
    client_secret: ${idp.introspectionClient.clientSecret}
${extra}`;

  // Default: in a list of several, no issuer receives opaque tokens.
  const quiet = await proxy({ userinfoUrl: a.userinfoUrl, yaml: `issuers:\n${item('a', a)}${item('b', b)}` });
  const counts = () => [a.counts.introspection, b.counts.introspection];
  let before = counts();
  t.match(await login(quiet, await b.mintToken(alice.email)), /^a1 NO \[AUTHENTICATIONFAILED\]/, 'refused');
  t.same(counts(), before, 'and shown to no IdP');

  // b receives them: b's token is shown to b only, although a comes first in the list.
  const routed = await proxy({ userinfoUrl: a.userinfoUrl, yaml: `issuers:\n${item('a', a)}${item('b', b, '    opaque_tokens: all\n')}` });
  before = counts();
  t.match(await login(routed, await b.mintToken(alice.email)), /^a1 OK /, "b's token logs in");
  t.same(counts(), [before[0], before[1]! + 1], 'a never saw it');
  t.ok(routed.logs().some((l) => l.event === 'login' && l.user === alice.email), 'logged in as alice');
  for (const text of [quiet.rawLogs(), routed.rawLogs()]) for (const s of secrets) t.notOk(text.includes(s), 'no secret in the logs');
});
