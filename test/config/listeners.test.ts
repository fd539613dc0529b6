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
