// Adversary finding: a throw in the hand-off after the client's OK was written (the splice
// started, then `onSpliced`, the registry's bookkeeping, threw) was worded as a second tagged
// reply, `a NO [SERVERBUG]`, written into the spliced stream after `a OK`, and the spliced
// connection went on unregistered: a drain or a token revocation could never reach it.
// Fail closed instead: nothing more from the session, the connection ends. The fault is
// injected (onSpliced throws); Dovecot and its login are real.
import t from 'tap';
import net from 'node:net';
import { once } from 'node:events';
import { Writable } from 'node:stream';
import { ImapSession, type ImapSessionDeps } from '../../src/imap/session.js';
import { Authenticator } from '../../src/auth/authenticator.js';
import { createLogger } from '../../src/observability/logger.js';
import { imapLoginTo } from '../../src/backend/imap-login.js';
import { backendTlsOptions } from '../../src/backend/dial.js';
import { startBackend } from '../harness/backend.js';

const backend = await startBackend();
t.teardown(() => backend.stop());
const [alice] = backend.users as [typeof backend.users[0]];

t.test('onSpliced throws after the OK: no second tagged reply, and the unregistered splice ends', async (t) => {
  const at = { host: backend.host, port: backend.imapPort, tls: 'none' as const, tlsOptions: backendTlsOptions({ tlsVerify: false, caFile: null, servername: 'localhost' }), timeoutMs: 5000, proxyProtocol: false };
  const plain = Buffer.from(`\0${alice.email}\0${alice.password}`).toString('base64');
  const deps: ImapSessionDeps = {
    limits: { maxLineBytes: 8192, maxLiteralBytes: 65536, maxBadCommands: 10, preauthTimeoutMs: 60_000, idleTimeoutMs: 60_000 },
    allowPlaintextAuth: true,
    tlsContext: null,
    login: {
      authenticator: new Authenticator({ check: () => Promise.reject(new Error('no tokens here')) }),
      backend: () => Promise.reject(new Error('unused')),
      backendCall: (_who, c, sink) => imapLoginTo(at, c, plain, null, sink),
    },
    log: createLogger('silent', new Writable({ write: (_c, _e, cb) => cb() })),
    onSpliced: () => { throw new Error('injected: registry bookkeeping'); },
  };
  const server = net.createServer((s) => new ImapSession(s, false, deps).start());
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => server.close());
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  t.teardown(() => client.destroy());
  let buf = '';
  client.setEncoding('latin1').on('data', (d: string) => { buf += d; });
  const closed = Promise.race([once(client, 'close').then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 5000))]);
  await new Promise((r) => setTimeout(r, 200));
  client.write(`a LOGIN ${alice.email} ${alice.password}\r\n`);
  t.ok(await closed, 'the connection ends (its splice is in no registry)');
  const lines = buf.split('\r\n').filter(Boolean);
  t.equal(lines.filter((l) => l.startsWith('a ')).length, 1, `one tagged reply: ${JSON.stringify(lines)}`);
  t.notOk(lines.some((l) => /^a NO /.test(l)), 'no NO after the OK');
});
