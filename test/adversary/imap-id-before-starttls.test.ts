// Adversary: what a client says before STARTTLS is said in the clear, where anyone on the path
// can write it (the reason the session discards commands pipelined behind STARTTLS). The IMAP
// `ID` fields of a session are forwarded to Dovecot at the backend login, where they are
// logged and shown as the client's (imap_id_log, the mail_log plugin, doveadm who). An ID
// sent before STARTTLS was kept across the TLS upgrade and forwarded as if the client had
// sent it over TLS. As RFC 3207 §4.2 has it for SMTP, knowledge obtained from the client
// before TLS is discarded: only an ID sent after STARTTLS is forwarded.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { RawClient } from '../harness/raw-imap.js';
import { startBackendAndIdp } from '../harness/stack.js';
import { startProxy } from '../harness/proxy.js';
import { startGateRelay } from '../harness/gate-relay.js';

const { backend } = await startBackendAndIdp(t);
const relay = await startGateRelay(t, backend.imapPort); // records what the proxy sends Dovecot
const proxy = await startProxy({ backend, userinfoUrl: 'http://127.0.0.1:1/unused', env: { DMS_TLS: 'none', DMS_IMAP_PORT: String(relay.port) } });
t.teardown(() => proxy.stop());
const ca = readFileSync(proxy.certs.caFile, 'utf8');
const [alice] = backend.users as [typeof backend.users[0]];

async function loginOver143(before: string | null, after: string | null): Promise<void> {
  const c = await RawClient.connect(proxy.imapPort);
  try {
    await c.line();
    if (before) t.match((await c.command(`i1 ID ("name" "${before}")`)).tagged, /^i1 OK/, 'ID before STARTTLS answered');
    t.match(await c.startTls(ca), /^S1 OK/, 'STARTTLS');
    if (after) t.match((await c.command(`i2 ID ("name" "${after}")`)).tagged, /^i2 OK/, 'ID after STARTTLS answered');
    t.match((await c.command(`a LOGIN "${alice.email}" "${alice.password}"`, 10_000)).tagged, /^a OK/, 'logged in');
    t.match((await c.command('l LOGOUT')).tagged, /^l OK/);
  } finally {
    c.close();
  }
}

t.test('an ID sent after STARTTLS reaches Dovecot (the relay sees what is forwarded)', async (t) => {
  await loginOver143(null, 'sent-over-tls');
  t.match(relay.sent(), /"name" "sent-over-tls"/, 'forwarded in the backend ID');
});

t.test('an ID sent before STARTTLS is not forwarded after it', async (t) => {
  await loginOver143('written-in-the-clear', null);
  t.notMatch(relay.sent(), /written-in-the-clear/, 'the plaintext ID is forgotten at the TLS upgrade');
});
