// The tripwire for smtp-server internals: the adapter relies on private members of
// smtp-server's connection; this test fails the day an upgrade changes them.
import t from 'tap';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createSmtpFront, SMTP_SERVER_VERSION, type SmtpClient } from '../../src/smtp/smtp-server-adapter.js';

const require = createRequire(import.meta.url);
const installed = JSON.parse(readFileSync(require.resolve('smtp-server/package.json'), 'utf8')) as { version: string };
const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { dependencies: Record<string, string> };

t.equal(installed.version, SMTP_SERVER_VERSION, 'the installed smtp-server is the version the adapter was written for');
t.equal(pkg.dependencies['smtp-server'], SMTP_SERVER_VERSION, 'package.json pins that exact version');

async function withFront(onAuth: (c: SmtpClient, command: string) => void, allowPlaintextAuth = true) {
  const front = createSmtpFront({ implicitTls: false, tlsContext: null, allowPlaintextAuth, onAuth, onFault: () => undefined, serverOptions: { authMethods: ['PLAIN'], hideSTARTTLS: true, allowInsecureAuth: allowPlaintextAuth, disableReverseLookup: true, name: 'test' } });
  const server = net.createServer((s) => front.accept(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => { server.close(); front.server.close(() => undefined); });
  const sock = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  t.teardown(() => sock.destroy());
  let buf = '';
  sock.on('data', (d) => { buf += d.toString(); });
  const waitFor = async (re: RegExp): Promise<string> => {
    const end = Date.now() + 3000;
    while (!re.test(buf)) {
      if (Date.now() > end) throw new Error(`timeout waiting for ${re}; got ${JSON.stringify(buf)}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    return buf;
  };
  return { front, sock, waitFor, text: () => buf };
}

t.test('private members the adapter uses exist on a live connection', async (t) => {
  const { front, sock, waitFor } = await withFront(() => undefined);
  await waitFor(/^220 /m);
  t.type(front.server.connections, Set);
  t.type(front.server.secureContext, Map);
  const [conn] = [...front.server.connections] as unknown as Array<Record<string, unknown>>;
  t.ok(conn, 'connection registered in server.connections');
  for (const fn of ['send', 'close', 'handler_AUTH', 'handler_EHLO', 'upgrade', '_onCommand']) t.type(conn![fn], 'function', fn);
  for (const key of ['_socket', '_parser', '_closed', '_closing', '_nextHandler', 'hostNameAppearsAs', 'remoteAddress', 'remotePort', 'localAddress', 'localPort', 'secure', 'id', '_server']) {
    t.ok(key in conn!, `connection has ${key}`);
  }
  t.type((conn!._parser as { isClosed: unknown }).isClosed, 'boolean', 'parser.isClosed');
  t.type((Object.getPrototypeOf(conn) as Record<string, unknown>)._onCommand, 'function', 'smtp-server dispatches each command line through _onCommand');
  t.type((conn!._parser as { _remainder: unknown })._remainder, 'string', 'parser._remainder (the partial line takeOver hands on)');
  t.type((conn!._parser as { oncommand: unknown }).oncommand, 'function', 'parser.oncommand (how takeOver collects pipelined lines)');
  t.equal(conn!._socket instanceof net.Socket, true);
  sock.write('EHLO client.test\r\n');
  await waitFor(/250 /);
  t.equal(conn!.hostNameAppearsAs, 'client.test');
});

t.test('continuation, then takeOver: smtp-server lets go of the socket', async (t) => {
  const { front, sock, waitFor, text } = await withFront((c) => {
    void c.continuation('cHJvbXB0').then((line) => {
      t.equal(line, 'response-line', 'continuation line delivered to us');
      c.reply(235, '2.7.0 ok');
      c.takeOver((socket) => {
        socket.on('data', (d) => socket.write(`echo:${d.toString()}`));
        socket.resume();
      });
    });
  });
  await waitFor(/^220 /m);
  sock.write('EHLO client.test\r\n');
  await waitFor(/250 /);
  sock.write('AUTH PLAIN\r\n');
  await waitFor(/334 cHJvbXB0/);
  sock.write('response-line\r\n');
  await waitFor(/235 2\.7\.0 ok/);
  t.equal(front.server.connections.size, 0, 'connection no longer tracked by smtp-server');
  sock.write('MAIL FROM:<a@b>\r\n');
  await waitFor(/echo:MAIL FROM/);
  t.notMatch(text(), /530|503|250 Accepted/, 'smtp-server did not answer after the hand-over');
});

t.test('takeOver with a long pipeline: every line, once, even if the client is gone by then', async (t) => {
  // 150 lines behind AUTH in one read: smtp-server's parser yields after 100 (MAX_SYNC_COMMANDS),
  // so the lines come a turn later; the client is destroyed in between.
  const calls: Array<{ destroyed: boolean; early: string }> = [];
  const handedOver = new Promise<void>((resolve) => {
    void withFront((c) => {
      c.reply(235, '2.7.0 ok');
      c.takeOver((socket, early) => {
        calls.push({ destroyed: socket.destroyed, early: early.toString('latin1') });
        resolve();
      });
      t.equal(calls.length, 0, 'not yet: the parser still holds lines');
      c.abort();
    }).then(async ({ sock, waitFor }) => {
      await waitFor(/^220 /m);
      sock.write('EHLO client.test\r\n');
      await waitFor(/250 /);
      const lines = Array.from({ length: 150 }, (_, i) => `RCPT TO:<r${i}@example.test>`);
      sock.write(`AUTH PLAIN AGFAYg==\r\n${lines.join('\r\n')}\r\npartial`);
    });
  });
  await handedOver;
  await new Promise((r) => setTimeout(r, 50));
  t.equal(calls.length, 1, 'called once');
  t.equal(calls[0]!.destroyed, true, 'the socket is handed over closed, for the caller to see');
  const expected = Array.from({ length: 150 }, (_, i) => `RCPT TO:<r${i}@example.test>\r\n`).join('') + 'partial';
  t.equal(calls[0]!.early, expected, 'all 150 lines in order, then the partial last line');
});

t.test('no AUTH in EHLO before TLS unless plaintext auth is allowed', async (t) => {
  const strict = await withFront(() => undefined, false);
  await strict.waitFor(/^220 /m);
  strict.sock.write('EHLO client.test\r\n');
  t.notMatch(await strict.waitFor(/250 /), /AUTH/);
  const lax = await withFront(() => undefined, true);
  await lax.waitFor(/^220 /m);
  lax.sock.write('EHLO client.test\r\n');
  t.match(await lax.waitFor(/250 /), /AUTH PLAIN/);
});
