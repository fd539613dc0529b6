// parseKvPairs walks the text with indexOf instead of split('\x01') (issue 21): it must give
// what the split definition gives, for every string over an alphabet of the characters that
// matter (kvsep, '=', key letters), up to 7 characters: the same pairs, or the same refusal.
import t from 'tap';
import { parseKvPairs } from '../../../src/auth/sasl/oauthbearer.js';
import { SaslError } from '../../../src/auth/sasl/types.js';

function bySplit(text: string, keys: readonly string[]): Map<string, string> {
  const pairs = new Map<string, string>();
  for (const segment of text.split('\x01')) {
    const eq = segment.indexOf('=');
    if (eq <= 0) continue;
    const key = segment.slice(0, eq);
    if (!keys.includes(key)) continue;
    if (pairs.has(key)) throw new SaslError('ERR_SASL_SYNTAX', `key ${key} given twice`);
    pairs.set(key, segment.slice(eq + 1));
  }
  return pairs;
}

const outcome = (f: () => Map<string, string>): string => {
  try { return JSON.stringify([...f()]); } catch (err) { return `${(err as SaslError).code}: ${(err as Error).message}`; }
};

t.test('the same pairs or refusal as splitting on kvsep', async (t) => {
  const alphabet = ['\x01', '=', 'a', 'h', 'u'];
  const keys = ['a', 'h', 'u', 'ua'];
  let checked = 0;
  let differ = 0;
  const walk = (text: string): void => {
    if (outcome(() => parseKvPairs(text, keys)) !== outcome(() => bySplit(text, keys))) differ++;
    checked++;
    if (text.length < 7) for (const c of alphabet) walk(text + c);
  };
  walk('');
  t.equal(differ, 0, `no difference in ${checked} strings`);
  t.equal(checked, 97656);
});

t.test('a real XOAUTH2 and OAUTHBEARER body', async (t) => {
  t.same([...parseKvPairs('user=alice@example.test\x01auth=Bearer abc.def\x01\x01', ['user', 'auth'])], [['user', 'alice@example.test'], ['auth', 'Bearer abc.def']]);
  t.same([...parseKvPairs('host=mail\x01port=993\x01auth=Bearer x=\x01\x01', ['host', 'port', 'auth'])], [['host', 'mail'], ['port', '993'], ['auth', 'Bearer x=']]);
  t.throws(() => parseKvPairs('auth=a\x01auth=b', ['auth']), { code: 'ERR_SASL_SYNTAX' });
});
