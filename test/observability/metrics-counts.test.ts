// The per-login counters are kept as plain numbers and added to prom-client's counters when
// scraped (src/observability/batched-counter.ts): a scrape shows every count once, by its
// labels, and a second scrape neither loses nor doubles any.
import t from 'tap';
import { createMetrics, metrics } from '../../src/observability/metrics.js';
import { TokenChecker } from '../../src/auth/token-check.js';
import { tokenKey } from '../../src/auth/cache.js';
import type { IssuerDecision } from '../../src/auth/issuers.js';

const sample = (text: string, name: string, labels: string): number => {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
};

t.test('logins_total and spliced_bytes_total by label set, across scrapes', async (t) => {
  const m = createMetrics();
  m.countLogin('imap', 'XOAUTH2', 'ok');
  m.countLogin('imap', 'XOAUTH2', 'ok');
  m.countLogin('imap', 'OAUTHBEARER', 'ok');
  m.countLogin('pop3', 'XOAUTH2', 'failed');
  m.countSplicedBytes('imap', 100, 2000);
  m.countSplicedBytes('imap', 1, 20);
  let text = await m.registry.metrics();
  t.equal(sample(text, 'oauth2_mail_proxy_logins_total', 'protocol="imap",mechanism="XOAUTH2",result="ok"'), 2);
  t.equal(sample(text, 'oauth2_mail_proxy_logins_total', 'protocol="imap",mechanism="OAUTHBEARER",result="ok"'), 1);
  t.equal(sample(text, 'oauth2_mail_proxy_logins_total', 'protocol="pop3",mechanism="XOAUTH2",result="failed"'), 1);
  t.equal(sample(text, 'oauth2_mail_proxy_spliced_bytes_total', 'protocol="imap",direction="to_backend"'), 101);
  t.equal(sample(text, 'oauth2_mail_proxy_spliced_bytes_total', 'protocol="imap",direction="to_client"'), 2020);

  m.countLogin('imap', 'XOAUTH2', 'ok');
  m.countSplicedBytes('imap', 5, 0);
  text = await m.registry.metrics();
  t.equal(sample(text, 'oauth2_mail_proxy_logins_total', 'protocol="imap",mechanism="XOAUTH2",result="ok"'), 3, 'added once more, not twice');
  t.equal(sample(text, 'oauth2_mail_proxy_logins_total', 'protocol="imap",mechanism="OAUTHBEARER",result="ok"'), 1, 'unchanged');
  t.equal(sample(text, 'oauth2_mail_proxy_spliced_bytes_total', 'protocol="imap",direction="to_backend"'), 106);
  t.equal(sample(text, 'oauth2_mail_proxy_spliced_bytes_total', 'protocol="imap",direction="to_client"'), 2020);
});

t.test('token_cache_lookups_total: what a scrape shows is the lookups made, by result', async (t) => {
  const m = createMetrics();
  for (let i = 0; i < 5; i++) m.countTokenCache('hit');
  m.countTokenCache('miss');
  let text = await m.registry.metrics();
  t.equal(sample(text, 'oauth2_mail_proxy_token_cache_lookups_total', 'result="hit"'), 5);
  t.equal(sample(text, 'oauth2_mail_proxy_token_cache_lookups_total', 'result="miss"'), 1);
  t.equal(sample(text, 'oauth2_mail_proxy_token_cache_lookups_total', 'result="shared"'), 0, 'no line before the first one');
  m.countTokenCache('shared');
  m.countTokenCache('hit');
  text = await m.registry.metrics();
  t.equal(sample(text, 'oauth2_mail_proxy_token_cache_lookups_total', 'result="hit"'), 6, 'added once more, not twice');
  t.equal(sample(text, 'oauth2_mail_proxy_token_cache_lookups_total', 'result="miss"'), 1, 'unchanged');
  t.equal(sample(text, 'oauth2_mail_proxy_token_cache_lookups_total', 'result="shared"'), 1);
  const got = await m.tokenCache.get();
  t.same(Object.fromEntries(got.values.map((v) => [v.labels.result, v.value])), { hit: 6, miss: 1, shared: 1 }, 'get() reads the same totals');
});

t.test('token_cache_lookups_total counts the token checker\'s real lookups (hit, miss, shared)', async (t) => {
  const valid: IssuerDecision = { status: 'valid', issuer: 'i', mode: 'post', user: 'a@b.c', claim: 'email', evidence: {} };
  // A shared store that knows "tok-shared" only: the first lookup of it is a miss answered by another replica.
  const shared = { get: async (key: string) => (sharedKeys.has(key) ? { decision: valid as Extract<IssuerDecision, { status: 'valid' }>, ttlMs: 60_000 } : null), put: () => {} };
  const sharedKeys = new Set<string>();
  const checker = new TokenChecker({ check: async () => valid }, { ttlSeconds: 300, negativeSeconds: 10, maxEntries: 100 }, undefined, Date.now, shared);
  const read = async () => {
    const text = await metrics.registry.metrics();
    return { hit: sample(text, 'oauth2_mail_proxy_token_cache_lookups_total', 'result="hit"'), miss: sample(text, 'oauth2_mail_proxy_token_cache_lookups_total', 'result="miss"'), shared: sample(text, 'oauth2_mail_proxy_token_cache_lookups_total', 'result="shared"') };
  };
  const before = await read();
  await checker.check('tok-a'); // miss (IdP)
  await checker.check('tok-a'); // hit
  await checker.check('tok-a'); // hit
  sharedKeys.add(tokenKey('tok-shared'));
  await checker.check('tok-shared'); // miss here, answered by the shared store
  await checker.check('tok-shared'); // hit
  const after = await read();
  t.same({ hit: after.hit - before.hit, miss: after.miss - before.miss, shared: after.shared - before.shared }, { hit: 3, miss: 2, shared: 1 });
});
