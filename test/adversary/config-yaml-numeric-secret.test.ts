// Adversary: a secret, name or path in the YAML file (`--config`) that looks like a number.
// YAML reads a plain 00112233445566778899 as the integer 112233445566778900 (leading zeros
// gone, precision lost past 2^53), 0x1F as 31, 0777 as 777, 1e3 as 1000; the loader then
// turned that number back into text. So `DMS_MASTER_PASSWORD: 00112233445566778899` (a
// numeric password, written as the example file writes every value, unquoted) started a
// proxy with another master password: every login failed at Dovecot as a wrong password,
// each one adding to DMS's auth penalty and Fail2Ban count against the proxy's address, with
// nothing at start-up to say why. The same for SCIM_TOKEN, client secrets and audiences in
// `issuers:`. The environment gives the text as written; the file must give the same.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, readConfigFile } from '../../src/config/load.js';

const dir = mkdtempSync(join(tmpdir(), 'adv-yaml-numeric-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

function load(yaml: string) {
  const file = join(dir, `c${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, yaml);
  return loadConfig({}, readConfigFile(file));
}

const base = [
  'OAUTH2_INTROSPECTION_URL: https://idp.example/userinfo',
  'DMS_MASTER_USER: proxy',
  'ALLOW_PLAINTEXT_AUTH: true',
  'LISTEN_IMAPS: ""',
  'LISTEN_SUBMISSIONS: ""',
  'DMS_IMAP_PORT: 10143',
].join('\n');

t.test('DMS_MASTER_PASSWORD as written, not as the number YAML reads', async (t) => {
  for (const pw of ['00112233445566778899', '0x1F', '0777', '1e3', '12345678901234567890123', 'True', 'FALSE']) {
    t.equal(load(`${base}\nDMS_MASTER_PASSWORD: ${pw}\n`).backend.masterPassword, pw);
  }
});

t.test('SCIM_TOKEN as written', async (t) => {
  const c = load(`${base}\nDMS_MASTER_PASSWORD: pw\nLISTEN_SCIM: 127.0.0.1:0\nDMS_CONFIG_DIR: ${dir}\nSCIM_TOKEN: 12345678901234567890123\n`);
  t.equal(c.scim?.token, '12345678901234567890123');
});

t.test('an issuers: item keeps a numeric client secret and audience as written', async (t) => {
  const c = load(`${base}\nDMS_MASTER_PASSWORD: pw\nissuers:\n  - name: a\n    introspection_mode: post\n    introspection_url: https://idp.example/introspect\n    client_id: 0042\n    client_secret: 00112233445566778899\n    audience: [0123, 9007199254740993]\n`);
  const is = c.oauth2.issuers[0]!;
  t.equal(is.client?.id, '0042');
  t.equal(is.client?.secret, '00112233445566778899');
  t.same(is.audiences, ['0123', '9007199254740993']);
});

t.test('control: numbers and switches of number and switch keys still load', async (t) => {
  const c = load(`${base}\nDMS_MASTER_PASSWORD: pw\nSHUTDOWN_GRACE_SECONDS: 45\nDMS_TLS_VERIFY: false\nLISTEN_SCIM:\n`);
  t.equal(c.backend.imapPort, 10143);
  t.equal(c.allowPlaintextAuth, true);
  t.equal(c.ops.shutdownGraceMs, 45_000);
  t.equal(c.backend.tlsVerify, false);
  t.equal(c.scim, null);
});
