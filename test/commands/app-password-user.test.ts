// `app-password create USER`: USER is the name a mail client logs in with, so it must be one
// a login can match. A trailing blank, a control character, non-ASCII, Dovecot's master
// separator or no domain made a record (and printed a secret) that no login ever finds or
// that Dovecot refuses: the admin handed out a password that could never work. Refused now
// with exit code 64 and nothing written; an address in any ASCII case is stored lower-cased.
import t from 'tap';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { appPasswordCommand } from '../../src/commands/app-password.js';
import { AppPasswordFile } from '../../src/state/app-password-file.js';

const dir = mkdtempSync(join(tmpdir(), 'omp-app-pw-user-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const file = join(dir, 'app-passwords.json');

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await appPasswordCommand(['--file', file, ...argv], { env: {}, out: (s) => { out += s; }, err: (s) => { err += s; } });
  return { code, out, err };
}

t.test('a user name no login can match: exit 64, no secret, nothing written', async (t) => {
  for (const user of ['alice@example.test ', ' alice@example.test', 'alice@example.test\t', 'alice@example.test\u0000', 'al*ice@example.test', 'alice@exämple.test', 'alice', 'alice@', '@example.test', 'a|b@example.test']) {
    const r = await cli('create', user, 'Phone');
    t.equal(r.code, 64, `${JSON.stringify(user)}: refused`);
    t.notMatch(r.out, /shown once/, `${JSON.stringify(user)}: no secret printed`);
  }
  t.notOk(existsSync(file), 'nothing written');
});

t.test('an address in any ASCII case: made, stored lower-cased', async (t) => {
  const r = await cli('--json', 'create', 'Alice@Example.TEST', 'Phone');
  t.equal(r.code, 0);
  const store = await AppPasswordFile.open(file);
  t.teardown(() => store.close());
  t.same((await store.list('alice@example.test')).map((x) => x.user), ['alice@example.test']);
});
