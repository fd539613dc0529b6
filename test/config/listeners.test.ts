// The "no listener" refusal names every client-facing listener key, so an operator who
// emptied them all learns each way to turn one back on (ManageSieve and POP3 included).
import t from 'tap';
import { loadConfig } from '../../src/config/load.js';

const minimal = { OAUTH2_INTROSPECTION_URL: 'https://idp.example/userinfo', DMS_MASTER_USER: 'proxy', DMS_MASTER_PASSWORD: 'pw', ALLOW_PLAINTEXT_AUTH: '1' };
const KEYS = ['LISTEN_IMAP', 'LISTEN_IMAPS', 'LISTEN_SUBMISSION', 'LISTEN_SUBMISSIONS', 'LISTEN_MANAGESIEVE', 'LISTEN_POP3', 'LISTEN_POP3S'] as const;
const none = Object.fromEntries(KEYS.map((k) => [k, '']));

function problem(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (err) {
    return (err as Error).message;
  }
  return '';
}

t.test('no listener: the error names every listener key', async (t) => {
  const text = problem({ ...minimal, ...none });
  t.match(text, /no listener/);
  const named = /no listener: set at least one of ([A-Z0-9_, ]+)/.exec(text)?.[1]?.split(', ') ?? [];
  t.same([...named].sort(), [...KEYS].sort());
});

t.test('any one listener alone is enough', async (t) => {
  for (const key of KEYS) {
    const env = { ...minimal, ...none, [key]: '127.0.0.1:1' };
    const text = problem(env);
    t.notMatch(text, /no listener/, key);
  }
});

t.test('two listeners on one port: listed with every other problem before anything binds', async (t) => {
  const plain = { ...minimal, ...none, LISTEN_IMAP: '0.0.0.0:143' };
  // A slip in a compose file: POP3 on the IMAP port. The wildcard clashes with any host.
  t.match(problem({ ...plain, LISTEN_POP3: '0.0.0.0:143' }), /LISTEN_IMAP \(0\.0\.0\.0:143\) and LISTEN_POP3 \(0\.0\.0\.0:143\) use the same port/);
  t.match(problem({ ...plain, LISTEN_HTTP: '127.0.0.1:143' }), /LISTEN_IMAP \(0\.0\.0\.0:143\) and LISTEN_HTTP \(127\.0\.0\.1:143\) use the same port/);
  t.match(problem({ ...plain, LISTEN_SUBMISSION: ':143' }), /LISTEN_IMAP .* and LISTEN_SUBMISSION \(0\.0\.0\.0:143\) use the same port/, 'an empty host is the wildcard');
  // Listed together with an unrelated problem: the operator fixes both in one go.
  const both = problem({ ...plain, LISTEN_POP3: '0.0.0.0:143', DMS_MASTER_USER: '' });
  t.match(both, /use the same port/);
  t.match(both, /DMS_MASTER_USER/);
  // Not clashes: other addresses on one port, port 0 (any free port), the defaults.
  t.equal(problem({ ...plain, LISTEN_IMAP: '127.0.0.1:2143', LISTEN_POP3: '127.0.0.2:2143' }), '');
  // Linux binds [::1]:143 beside 0.0.0.0:143; `::` is dual-stack and takes the IPv4 port too.
  t.equal(problem({ ...plain, LISTEN_POP3: '[::1]:143' }), '');
  t.match(problem({ ...plain, LISTEN_POP3: '[::]:143' }), /use the same port/);
  t.equal(problem({ ...plain, LISTEN_IMAP: '127.0.0.1:0', LISTEN_POP3: '127.0.0.1:0', LISTEN_HTTP: '127.0.0.1:0' }), '');
  t.notMatch(problem({ ...minimal }), /same port/, 'the defaults do not clash');
});
