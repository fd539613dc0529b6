// SHA512-CRYPT against the reference vectors of the spec, openssl passwd -6 and Dovecot.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { sha512Crypt, unusablePasswordHash, verifySha512Crypt } from '../../src/state/dms/sha512-crypt.js';

const has = (cmd: string): boolean => {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

t.test('vectors from Drepper\'s specification', async (t) => {
  t.equal(sha512Crypt('Hello world!', '$6$saltstring'),
    '$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1');
  t.equal(sha512Crypt('Hello world!', '$6$rounds=10000$saltstringsaltstring'),
    '$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.');
  t.equal(sha512Crypt('This is just a test', '$6$rounds=5000$toolongsaltstring'),
    '$6$rounds=5000$toolongsaltstrin$lQ8jolhgVRVhY4b5pZKaysCLi0QBxGoNeKQzQ3glMhwllF7oGDZxUhx1yxdYcz/e1JSbq3y6JMxxl8audkUEm0');
  t.equal(sha512Crypt('a very much longer text to encrypt.  This one even stretches over morethan one line.', '$6$rounds=1400$anotherlongsaltstring'),
    '$6$rounds=1400$anotherlongsalts$POfYwTEok97VWcjxIiSOjiykti.o/pQs.wPvMxQ6Fm7I6IoYN3CmLs66x9t0oSwbtEW7o7UmJEiDwGqd8p4ur1');
  t.equal(sha512Crypt('we have a short salt string but not a short password', '$6$rounds=77777$short'),
    '$6$rounds=77777$short$WuQyW2YR.hBNpjjRhpYD/ifIw05xdfeEyQoMxIXbkvr0gge1a1x3yRULJ5CCaUeOxFmtlcGZelFl5CxtgfiAc0');
  t.equal(sha512Crypt('a short string', '$6$rounds=123456$asaltof16chars..'),
    '$6$rounds=123456$asaltof16chars..$BtCwjqMJGx5hrJhZywWvt0RLE8uZ4oPwcelCjmw2kSYu.Ec6ycULevoBK25fs2xXgMNrCzIMVcgEJAstJeonj1');
  t.equal(sha512Crypt('the minimum number is still observed', '$6$rounds=10$roundstoolow'),
    '$6$rounds=1000$roundstoolow$kUMsbe306n21p9R.FRkW3IGn.S9NPN0x50YhH1xhLsPuWGsUSklZt58jaTfF4ZEQpyUNGc0dqbpBYYBaHHrsX.');
});

t.test('long and non-ASCII passwords agree with openssl passwd -6', { skip: !has('openssl') && 'no openssl' }, async (t) => {
  for (const [password, salt] of [['x'.repeat(200), 'SALTSALTSALTSALT'], ['pässwörd €', 'u8'], ['p'.repeat(64), 's'], ['q'.repeat(65), 's']] as const) {
    const ref = execFileSync('openssl', ['passwd', '-6', '-salt', salt, '-stdin'], { input: password }).toString().trim();
    t.equal(sha512Crypt(password, `$6$${salt}`), ref, `password of ${Buffer.byteLength(password)} bytes`);
  }
});

t.test('a fresh hash has a 16-character salt and verifies; doveadm accepts it', async (t) => {
  const hash = sha512Crypt('correct horse');
  t.match(hash, /^\$6\$[./0-9A-Za-z]{16}\$[./0-9A-Za-z]{86}$/);
  t.ok(verifySha512Crypt('correct horse', hash));
  t.notOk(verifySha512Crypt('wrong horse', hash));
  if (has('doveadm')) {
    const out = execFileSync('doveadm', ['-c', '/dev/null', 'pw', '-t', `{SHA512-CRYPT}${hash}`, '-p', 'correct horse']).toString();
    t.match(out, /verified/);
  }
});

t.test('the unusable password is a well-formed {SHA512-CRYPT} entry, different every time', async (t) => {
  const a = unusablePasswordHash();
  const b = unusablePasswordHash();
  t.match(a, /^\{SHA512-CRYPT\}\$6\$[./0-9A-Za-z]{16}\$[./0-9A-Za-z]{86}$/);
  t.not(a, b);
});

t.test('the empty password hashes like glibc', async (t) => {
  t.equal(sha512Crypt('', '$6$abc'), '$6$abc$mJP3a6FyA8uCnzRtlnNypPwjnvpi5TP9qOrInzrfDmwxUQG38PkpCPdqfTb8JQfAngapMxeim4AZ..hSdRRzD.');
});
