// PROVISION_ON_LOGIN's keys (issue 19): off by default; on, DMS_CONFIG_DIR is checked at
// start-up with SCIM's rules (exists, is a directory, writable), so a bad directory is a
// start-up error, not a failure at some user's first login.
import t from 'tap';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { writePemPair } from '../harness/certs.js';

const dir = mkdtempSync(join(tmpdir(), 'o2mp-config-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const cert = join(dir, 'cert.pem');
await writePemPair(cert, cert);
const minimal = { OAUTH2_INTROSPECTION_URL: 'https://idp.example/userinfo', DMS_MASTER_USER: 'proxy', DMS_MASTER_PASSWORD: 'pw', SSL_CERT_PATH: cert, SSL_KEY_PATH: cert };

t.test('off by default, whatever DMS_CONFIG_DIR says (the default /tmp/docker-mailserver need not exist)', async (t) => {
  t.equal(loadConfig(minimal).provision, null);
  t.equal(loadConfig({ ...minimal, PROVISION_ON_LOGIN: '0', DMS_CONFIG_DIR: join(dir, 'missing') }).provision, null);
});

t.test('on: the directory and the wait (default 20 s, bounded)', async (t) => {
  t.same(loadConfig({ ...minimal, PROVISION_ON_LOGIN: '1', DMS_CONFIG_DIR: dir }).provision, { dmsConfigDir: dir, waitMs: 20_000 });
  t.equal(loadConfig({ ...minimal, PROVISION_ON_LOGIN: 'true', DMS_CONFIG_DIR: dir, PROVISION_WAIT_MS: '5000' }).provision?.waitMs, 5000);
  t.throws(() => loadConfig({ ...minimal, PROVISION_ON_LOGIN: '1', DMS_CONFIG_DIR: dir, PROVISION_WAIT_MS: '999' }), /PROVISION_WAIT_MS/);
  t.throws(() => loadConfig({ ...minimal, PROVISION_ON_LOGIN: '1', DMS_CONFIG_DIR: dir, PROVISION_WAIT_MS: '120001' }), /PROVISION_WAIT_MS/);
});

t.test('on without a usable DMS_CONFIG_DIR: a start-up error naming the key', async (t) => {
  t.throws(() => loadConfig({ ...minimal, PROVISION_ON_LOGIN: '1', DMS_CONFIG_DIR: '' }), /DMS_CONFIG_DIR: required with PROVISION_ON_LOGIN=1/);
  t.throws(() => loadConfig({ ...minimal, PROVISION_ON_LOGIN: '1', DMS_CONFIG_DIR: join(dir, 'missing') }), /DMS_CONFIG_DIR: .* does not exist/);
  t.throws(() => loadConfig({ ...minimal, PROVISION_ON_LOGIN: '1', DMS_CONFIG_DIR: cert }), /DMS_CONFIG_DIR: .* is not a directory/);
  if (process.getuid?.() !== 0) { // root writes anywhere
    const ro = mkdtempSync(join(dir, 'ro-'));
    chmodSync(ro, 0o500);
    t.throws(() => loadConfig({ ...minimal, PROVISION_ON_LOGIN: '1', DMS_CONFIG_DIR: ro }), /is not writable/);
  }
});
