// Adversary: DMS_HOST written the way most proxies and DMS's own docs name a service,
// with its port or as a URL: `DMS_HOST=mailserver:143`, `DMS_HOST=imap://mailserver`,
// `DMS_HOST=[fd00::10]`. The loader took any text and the proxy started; every login then
// failed as "backend unavailable" (a DNS lookup of "mailserver:143" can never succeed), for
// every user, until someone read the logs. A value that can never name a host is a start-up problem, listed
// with the others, like every other bad value (docs/configuration.md). Names Docker and
// Kubernetes resolve (with underscores, dots) and bare IPv4/IPv6 addresses stay valid.
import t from 'tap';
import { ConfigError, loadConfig } from '../../src/config/load.js';

const env = {
  OAUTH2_INTROSPECTION_URL: 'https://idp.example/userinfo',
  DMS_MASTER_USER: 'proxy', DMS_MASTER_PASSWORD: 'pw',
  ALLOW_PLAINTEXT_AUTH: '1', LISTEN_IMAPS: '', LISTEN_SUBMISSIONS: '',
};

function problems(host: string): string {
  try {
    loadConfig({ ...env, DMS_HOST: host });
    return '';
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.join('\n');
    throw err;
  }
}

for (const bad of ['mailserver:143', 'imap://mailserver', 'mailserver/', '[fd00::10]', 'mail server', 'mailserver:']) {
  t.test(`DMS_HOST=${bad}: a start-up problem`, async (t) => {
    t.match(problems(bad), /DMS_HOST/);
  });
}

for (const good of ['mailserver', 'mail_server', 'mailserver.mail.svc.cluster.local', '172.31.250.10', 'fd00::10', '::1', 'MAILSERVER', ' mailserver ']) {
  t.test(`DMS_HOST=${good}: valid`, async (t) => {
    t.equal(problems(good), '');
  });
}
