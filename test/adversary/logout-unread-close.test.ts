// Adversary finding: every way the proxy ends a connection before login gives the client
// POLITE_CLOSE_MS to take its last words, then destroys the socket (session/connection.ts
// close()) -- except LOGOUT (IMAP LOGOUT, POP3 QUIT, ManageSieve LOGOUT), which only ends
// it. A client whose replies are not being read (it pipelined enough CAPABILITY commands to
// fill the socket buffers, then LOGOUT, and reads nothing) leaves a socket that never
// finishes writing: the session is over (no pre-login timer, gone from the registry) but the
// descriptor and its per-client slot stay taken for as long as the client likes, with no
// traffic at all. Here the client side is a stream whose writes never complete, which is
// what a peer that never reads looks like once the kernel buffers are full.
import t from 'tap';
import { Duplex, Writable } from 'node:stream';
import type net from 'node:net';
import { ImapSession, type ImapSessionDeps } from '../../src/imap/session.js';
import { Authenticator } from '../../src/auth/authenticator.js';
import { createLogger } from '../../src/observability/logger.js';
import { POLITE_CLOSE_MS } from '../../src/limits.js';

/** A client connection whose peer never reads: nothing written ever completes. */
function neverReadingClient(): Duplex {
  return new Duplex({ read() {}, write(_chunk, _enc, _done) { /* never done */ } });
}

const deps: ImapSessionDeps = {
  limits: { maxLineBytes: 8192, maxLiteralBytes: 65536, maxBadCommands: 10, preauthTimeoutMs: 60_000, idleTimeoutMs: 60_000 },
  allowPlaintextAuth: true,
  tlsContext: null,
  login: {
    authenticator: new Authenticator({ check: async () => ({ status: 'invalid', reason: 'test' }) } as never),
    backend: async () => { throw new Error('no backend in this test'); },
  },
  log: createLogger('silent', new Writable({ write: (_c, _e, cb) => cb() })),
} as never;

const peer = { address: '192.0.2.7', port: 40000, localAddress: '127.0.0.1', localPort: 143 };

t.test('IMAP LOGOUT from a client that reads nothing: the socket is destroyed after the polite close time', async (t) => {
  const socket = neverReadingClient();
  const session = new ImapSession(socket as unknown as net.Socket, false, deps, peer);
  session.start();
  socket.push('a CAPABILITY\r\nb LOGOUT\r\n');
  await new Promise((r) => setTimeout(r, POLITE_CLOSE_MS + 1000));
  t.ok(socket.destroyed, `destroyed within ${POLITE_CLOSE_MS + 1000} ms of LOGOUT`);
  socket.destroy();
});

t.test('for comparison: the pre-login timer ending the same client destroys its socket', async (t) => {
  const socket = neverReadingClient();
  const session = new ImapSession(socket as unknown as net.Socket, false, deps, peer);
  session.start();
  socket.push('a CAPABILITY\r\n');
  session.expire();
  await new Promise((r) => setTimeout(r, POLITE_CLOSE_MS + 1000));
  t.ok(socket.destroyed, 'destroyed after the polite close time');
  socket.destroy();
});
