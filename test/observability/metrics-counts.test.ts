// The per-login counters are kept as plain numbers and added to prom-client's counters when
// scraped (src/observability/batched-counter.ts): a scrape shows every count once, by its
// labels, and a second scrape neither loses nor doubles any.
import t from 'tap';
import { createMetrics } from '../../src/observability/metrics.js';

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
