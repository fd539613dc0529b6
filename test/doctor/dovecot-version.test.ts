// doctor's Dovecot generation guess and the setting it names, from the capabilities the real
// backends send (captured from the harness's Dovecot 2.3.19 and 2.4.1, DMS_FLAVOUR=debian12/13).
import t from 'tap';
import { STARTTLS_AFTER_PROXY_SSL } from '../../src/backend/imap-login.js';
import { checkDovecotGeneration, dovecotGeneration, isCleartextRefusal } from '../../src/doctor/dovecot-version.js';

const POST_23 = 'IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT SORT=DISPLAY THREAD=REFERENCES THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH ESORT SEARCHRES WITHIN CONTEXT=SEARCH LIST-STATUS BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW STATUS=SIZE SAVEDATE LITERAL+ NOTIFY';
const POST_24 = 'IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT SORT=DISPLAY THREAD=REFERENCES THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH ESORT SEARCHRES WITHIN CONTEXT=SEARCH LIST-STATUS BINARY MOVE REPLACE SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW SPECIAL-USE STATUS=SIZE SAVEDATE COMPRESS=DEFLATE INPROGRESS NOTIFY LITERAL+';
const PRE_23 = 'IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS AUTH=PLAIN AUTH=LOGIN';
const PRE_24 = 'IMAP4rev1 LOGIN-REFERRALS ID ENABLE IDLE SASL-IR LITERAL+ STARTTLS AUTH=PLAIN AUTH=LOGIN';

t.test('generation from post-login capabilities, else the pre-login order, else unknown', async (t) => {
  t.equal(dovecotGeneration(POST_23), '2.3');
  t.equal(dovecotGeneration(POST_24), '2.4');
  t.equal(dovecotGeneration(undefined, PRE_23), '2.3');
  t.equal(dovecotGeneration(undefined, PRE_24), '2.4');
  t.equal(dovecotGeneration(undefined, 'IMAP4rev1 STARTTLS'), undefined);
  t.equal(dovecotGeneration(), undefined);
});

t.test('names the setting that bites on 2.4: TLS on the backend leg', async (t) => {
  const refused = checkDovecotGeneration({ generation: undefined, tls: 'none', proxyProtocol: false,
    loginRefusal: 'backend answered NO [PRIVACYREQUIRED] Cleartext authentication disallowed on non-secure (SSL/TLS) connections.' });
  t.equal(refused.status, 'fail');
  t.match(refused.detail, /login_trusted_networks as secured.*ssl = required/);
  t.match(refused.fix, /DMS_TLS=starttls.*DMS_IMAP_PROXY_PROTOCOL=1/);
  const risky = checkDovecotGeneration({ generation: '2.4', tls: 'none', proxyProtocol: false });
  t.equal(risky.status, 'warn');
  t.match(risky.fix, /DMS_TLS=starttls/);
  t.equal(checkDovecotGeneration({ generation: '2.4', tls: 'none', proxyProtocol: true }).status, 'ok', 'the PROXY v2 SSL TLV carries TLS');
  const ok24 = checkDovecotGeneration({ generation: '2.4', tls: 'starttls', proxyProtocol: false });
  t.equal(ok24.status, 'ok');
  t.match(ok24.detail, /dovecot-2\.4\.cf: auth_allow_cleartext, not disable_plaintext_auth/);
  t.match(checkDovecotGeneration({ generation: '2.3', tls: 'none', proxyProtocol: false }), { status: 'ok', detail: /Dovecot 2\.3/ });
  t.match(checkDovecotGeneration({ generation: undefined, tls: 'starttls', proxyProtocol: false, loginRefusal: 'backend answered NO [AUTHENTICATIONFAILED] Authentication failed.' }),
    { status: 'warn', detail: /master login failed/ });
  t.match(checkDovecotGeneration({ generation: undefined, tls: 'starttls', proxyProtocol: true, loginRefusal: STARTTLS_AFTER_PROXY_SSL }),
    { status: 'fail', detail: /refuses STARTTLS/, fix: /DMS_TLS=implicit .*10993/ }, 'PROXY v2 + STARTTLS on 2.4');
  t.notOk(isCleartextRefusal('NO [AUTHENTICATIONFAILED] Authentication failed.'));
});
