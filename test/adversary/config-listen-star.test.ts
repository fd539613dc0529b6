// Adversary: Dovecot's and Postfix's way of saying "every address", `*` (DMS's own
// dovecot.cf has `listen = *, ::`), written into a listener: LISTEN_IMAP=*:143. The loader
// took any host text, so the problem surfaced only when the listener was bound: start-up
// ended with "getaddrinfo ENOTFOUND *", exit 1 instead of 78, after the other problems had
// been reported (or, with none, as the only line), and with no hint of what to write. The
// same for other text no socket can bind (a URL, a blank). Listed at start-up with every
// other problem, naming 0.0.0.0 and [::]. Host names stay valid (they are resolved at bind).
import t from 'tap';
import { ConfigError, loadConfig } from '../../src/config/load.js';

const env = {
  OAUTH2_INTROSPECTION_URL: 'https://idp.example/userinfo',
  DMS_MASTER_USER: 'proxy', DMS_MASTER_PASSWORD: 'pw',
  ALLOW_PLAINTEXT_AUTH: '1', LISTEN_IMAPS: '', LISTEN_SUBMISSIONS: '', LISTEN_SUBMISSION: '',
};

function problems(listen: string): string {
  try {
    loadConfig({ ...env, LISTEN_IMAP: listen });
    return '';
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.join('\n');
    throw err;
  }
}

for (const bad of ['*:143', 'http://0.0.0.0:143', 'mail/server:143', 'a..b:143']) {
  t.test(`LISTEN_IMAP=${bad}: a start-up problem that says what to write`, async (t) => {
    const p = problems(bad);
    t.match(p, /LISTEN_IMAP/);
    t.match(p, /0\.0\.0\.0/);
  });
}

for (const good of ['0.0.0.0:143', ':143', '[::]:143', '127.0.0.1:143', 'localhost:143', 'mail.example.com:143', 'proxy_1:143']) {
  t.test(`LISTEN_IMAP=${good}: valid`, async (t) => {
    t.equal(problems(good), '');
  });
}
