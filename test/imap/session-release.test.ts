// After login the proxy only moves bytes: a session in IDLE for hours must not keep its
// login machinery (framer, SASL state, timers, the ImapSession itself) alive. This logs a
// session in against a stand-in backend socket (the backend login is not under test here),
// checks the splice works, then forces GCs and expects the ImapSession to be collected while
// its connection is still open. Shutdown still reaches it, through its handle.
import t from 'tap';
import net from 'node:net';
import { once } from 'node:events';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ImapSession, type ImapSessionDeps, type SessionHandle } from '../../src/imap/session.js';
import { Authenticator } from '../../src/auth/authenticator.js';
import { createLogger } from '../../src/observability/logger.js';
import { Writable } from 'node:stream';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

async function pair(): Promise<[net.Socket, net.Socket, net.Server]> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const outer = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  const [inner] = await once(server, 'connection') as [net.Socket];
  await once(outer, 'connect');
  return [outer, inner, server];
}

function reader(s: net.Socket): (re: RegExp) => Promise<string> {
  let buf = '';
  s.setEncoding('latin1').on('data', (d: string) => { buf += d; });
  return async (re) => {
    for (let i = 0; i < 200; i++) {
      const m = re.exec(buf);
      if (m) { buf = buf.slice(m.index + m[0].length); return m[0]; }
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`no ${re} in ${JSON.stringify(buf)}`);
  };
}

t.test('a spliced session is garbage once logged in; its handle still ends the connection', async (t) => {
  const [client, accepted, s1] = await pair();
  const [backendFar, backendNear, s2] = await pair();
  const sessions = new Set<SessionHandle>();
  const auth = new Authenticator({ check: async () => ({ status: 'valid', user: 'alice@example.test', claim: 'email' }) } as never);
  const deps: ImapSessionDeps = {
    limits: { maxLineBytes: 8192, maxLiteralBytes: 65536, maxBadCommands: 10, preauthTimeoutMs: 60_000, idleTimeoutMs: 60_000 },
    allowPlaintextAuth: true,
    tlsContext: null,
    login: {
      authenticator: auth,
      backend: async () => ({ ok: true, socket: backendNear, capabilities: 'IMAP4rev1 IDLE', leftover: Buffer.alloc(0), loginMs: 1 }),
    },
    log: createLogger('silent', new Writable({ write: (_c, _e, cb) => cb() })),
    onEnd: (s) => sessions.delete(s),
    onSpliced: (session, handle) => { if (sessions.delete(session)) sessions.add(handle); },
  };
  let collected = false;
  const registry = new FinalizationRegistry(() => { collected = true; });
  {
    (() => {
      const session = new ImapSession(accepted, false, deps);
      sessions.add(session);
      registry.register(session, 'session');
      session.start();
    })();
  }
  const fromProxy = reader(client);
  const atBackend = reader(backendFar);
  await fromProxy(/^\* OK .*\r\n/m);
  const ir = Buffer.from('n,a=alice@example.test,\x01auth=Bearer tok\x01\x01').toString('base64');
  client.write(`a AUTHENTICATE OAUTHBEARER ${ir}\r\n`);
  t.match(await fromProxy(/^a OK .*\r\n/m), /^a OK \[CAPABILITY IMAP4rev1 IDLE\]/, 'logged in');
  client.write('b IDLE\r\n');
  t.equal(await atBackend(/b IDLE\r\n/), 'b IDLE\r\n', 'spliced to the backend');
  backendFar.write('+ idling\r\n');
  t.equal(await fromProxy(/\+ idling\r\n/), '+ idling\r\n', 'and back');

  for (let i = 0; i < 50 && !collected; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 20));
  }
  t.ok(collected, 'the ImapSession was collected while its connection is open');
  t.ok(registry, 'registry kept alive until here');
  t.equal(sessions.size, 1, 'the service still tracks the connection, by its handle');
  t.notOk(client.destroyed, 'connection open');

  [...sessions][0]!.cut('Server shutting down.');
  await once(client, 'close');
  for (let i = 0; i < 100 && sessions.size > 0; i++) await new Promise((r) => setTimeout(r, 10));
  t.equal(sessions.size, 0, 'the handle is gone once the connection ended');
  backendFar.destroy();
  s1.close();
  s2.close();
});
