// Adversary: RFC 7628 §3.1/§3.2.2: an OAUTHBEARER client message without an `auth` value is
// the client asking for discovery information; the server answers it with the error
// challenge (JSON status/schemes/scope/openid-configuration), the client sends the dummy
// `AQ==` (§3.2.3), and only then does the server fail the exchange. The proxy's own decoder
// names such a message a discovery request (auth/sasl/oauthbearer.ts: "A missing or empty
// `auth` is the client asking for discovery information (RFC 7628 §3.1, §3.2.2)"), but the
// sessions answer it with NO / 535 at once: no challenge, so the client learns nothing, and
// the `AQ==` it sends next as RFC 7628 tells it is read as a command (IMAP "* BAD Invalid arguments.",
// SMTP "500 ... command not recognized"), with a bad-command strike.
import t from 'tap';
import { startStack } from '../harness/stack.js';
import { RawClient } from '../harness/raw-imap.js';
import { RawSmtp } from '../harness/raw-smtp.js';

const { proxy, alice } = await startStack(t, {
  proxyEnv: { ALLOW_PLAINTEXT_AUTH: '1', AUTH_FAIL_DELAY_MS: '0', AUTH_FAIL_MAX_PER_IP: '1000', AUTH_FAIL_MAX_PER_USER: '1000' },
});
const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
// RFC 7628 §3.1: gs2-header kvsep *(kvpair kvsep) kvsep, here with host and port but no auth.
const DISCOVERY = b64(`n,a=${alice.email},\x01host=imap.example.test\x01port=143\x01\x01`);

t.test('control: a bad token gets the error challenge, then NO after AQ==', async (t) => {
  const c = await RawClient.connect(proxy.imapPort);
  t.teardown(() => c.close());
  await c.line();
  c.write(`a1 AUTHENTICATE OAUTHBEARER ${b64(`n,a=${alice.email},\x01auth=Bearer garbage\x01\x01`)}\r\n`);
  t.match(await c.line(), /^\+ \S+/);
  c.write('AQ==\r\n');
  t.match((await c.until('a1', 10_000)).tagged, /^a1 NO /);
});

t.test('IMAP: a discovery message gets the error challenge; AQ== is never read as a command', async (t) => {
  const c = await RawClient.connect(proxy.imapPort);
  t.teardown(() => c.close());
  await c.line();
  c.write(`a1 AUTHENTICATE OAUTHBEARER ${DISCOVERY}\r\n`);
  const first = await c.line(10_000);
  t.match(first, /^\+ \S+/, 'RFC 7628 §3.2.2 error challenge');
  if (first.startsWith('+ ')) {
    const json = JSON.parse(Buffer.from(first.slice(2), 'base64').toString('utf8')) as Record<string, string>;
    t.ok(json.status, 'challenge carries a status');
  }
  c.write('AQ==\r\na2 NOOP\r\n');
  const lines = [first, ...(await c.until('a2', 10_000)).untagged];
  t.notOk(lines.some((l) => /^(AQ==|\*) BAD/.test(l)), `AQ== answered as a command: ${JSON.stringify(lines)}`);
});

t.test('SMTP: a discovery message gets 334 <challenge>, then 535 after AQ==', async (t) => {
  const c = await RawSmtp.connect(proxy.submissionPort);
  t.teardown(() => c.close());
  await c.reply();
  await c.ehlo();
  const r = await c.command(`AUTH OAUTHBEARER ${DISCOVERY}`, 10_000);
  t.equal(r.code, 334, `RFC 7628 §3.2.2 error challenge, got ${r.raw ?? r.code}`);
  if (r.code === 334) {
    t.equal((await c.command('AQ==', 10_000)).code, 535);
  } else {
    const next = await c.command('AQ==', 10_000);
    t.not(next.code, 500, 'the AQ== the client sends next is not an unknown command');
  }
});
