// Certificate and key files are checked with every other setting at start-up: unreadable, a
// directory, no PEM, or a key that is not the certificate's are each listed, per file; so is
// a DMS_TLS_CA_FILE that holds no certificate (Node would take it silently).
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeCerts } from '../harness/certs.js';
import { caFileProblem, parseSniCertificates, pemPairProblems } from '../../src/config/certificates.js';

const dir = mkdtempSync(join(tmpdir(), 'omp-pem-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const a = await makeCerts(join(dir, 'a'));
const b = await makeCerts(join(dir, 'b'));
const notPem = join(dir, 'not.pem');
writeFileSync(notPem, 'no certificate here\n');

t.same(pemPairProblems(a.certFile, a.keyFile), [], 'a certificate and its key: no problem');
t.match(pemPairProblems(notPem, a.keyFile), [/not\.pem is no PEM certificate/], 'a certificate that is no PEM');
t.match(pemPairProblems(a.certFile, notPem), [/not\.pem is no PEM key/], 'a key that is no PEM');
t.match(pemPairProblems(notPem, dir), [/no PEM certificate/, /cannot read the key .*EISDIR/], 'both listed: no PEM, and a directory');
t.match(pemPairProblems(a.certFile, join(dir, 'gone.pem')), [/cannot read the key .*ENOENT/], 'a key that is gone');
t.match(pemPairProblems(a.certFile, b.keyFile), [/is not the certificate's/], 'another certificate\'s key');

t.test('the YAML certificates: list gets the same checks', async (t) => {
  const problems: string[] = [];
  const out = parseSniCertificates([
    { names: ['a.example.test'], cert: a.certFile, key: a.keyFile },
    { names: ['b.example.test'], cert: a.certFile, key: b.keyFile },
  ], problems);
  t.equal(out.length, 2);
  t.match(problems, [/^certificates\[1\]: .*is not the certificate's/]);
  t.equal(problems.length, 1, 'the good pair has none');
});

t.test('DMS_TLS_CA_FILE: a CA certificate, or a problem', async (t) => {
  t.equal(caFileProblem(a.caFile), null, 'the test CA');
  t.match(caFileProblem(notPem), /holds no PEM certificate/);
  t.match(caFileProblem(dir), /cannot read .*EISDIR/);
  t.match(caFileProblem(a.keyFile), /holds no PEM certificate/, 'a key is no CA');
});
