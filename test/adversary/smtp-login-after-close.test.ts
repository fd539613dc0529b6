// Adversary finding: an SMTP login still with Postfix when the proxy closes the connection
// before login (the login deadline's `421 4.4.2`, or the drain's `421 4.3.2` at shutdown)
// went on as if the client were still there: smtp-server only ends our side and counts the
// connection as closed once the client has closed its own, so the login, once Postfix
// accepted it, was logged as a success and spliced. Postfix kept a logged-in session for a
// client that had been told goodbye, the client could still send commands into it (its half
// of the connection stays open; the take-over also cleared smtp-server's half-close timer),
// and in a drain such a splice, registered after the drain had looked, was not told to go.
// A connection the proxy has closed is gone for the login, as one the client closed is.
import t from 'tap';
import net from 'node:net';
import { startBackendAndIdp } from '../harness/stack.js';
import { startGateRelay } from '../harness/gate-relay.js';
import { startProxy } from '../harness/proxy.js';

const { backend } = await startBackendAndIdp(t);
const [alice] = backend.users as [typeof backend.users[0]];

async function waitFor(read: () => string, re: RegExp, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!re.test(read())) {
    if (Date.now() > end) throw new Error(`no ${re} in ${JSON.stringify(read())}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

t.test('a login with Postfix when the login deadline says 421: not spliced, no Postfix session left', async (t) => {
  const gate = await startGateRelay(t, backend.submissionPort, backend.host);
  const p = await startProxy({
    backend: { ...backend, submissionPort: gate.port },
    userinfoUrl: 'http://127.0.0.1:9/unused',
    env: { ALLOW_PLAINTEXT_AUTH: '1', PREAUTH_TIMEOUT_SECONDS: '2' },
  });
  t.teardown(() => p.stop());
  await new Promise((r) => setTimeout(r, 500)); // the start-up feature probe is done
  // A client that keeps its side open after the proxy's FIN (allowHalfOpen), as a slow one does for a while.
  const c = net.connect({ port: p.submissionPort, host: '127.0.0.1', allowHalfOpen: true });
  t.teardown(() => c.destroy());
  let got = '';
  c.on('data', (d: Buffer) => { got += d.toString('latin1'); });
  c.on('error', () => undefined);
  await waitFor(() => got, /^220 /);
  c.write('EHLO client.example\r\n');
  await waitFor(() => got, /250 [^\r]*\r\n$/);
  gate.hold();
  const before = gate.open();
  c.write(`AUTH PLAIN ${Buffer.from(`\0${alice.email}\0${alice.password}`).toString('base64')}\r\n`);
  await waitFor(() => String(gate.open()), new RegExp(`^${before + 1}$`));
  await waitFor(() => got, /421 4\.4\.2 /); // the login deadline: the proxy says goodbye and ends its side
  gate.release(); // Postfix answers now: the login would succeed
  await new Promise((r) => setTimeout(r, 1000));
  t.notMatch(got, /\r\n235 /, 'no 235 after the 421');
  t.equal(gate.open(), 0, 'no Postfix session left for a client told goodbye');
  t.notOk(p.logs().some((l) => l.event === 'login'), 'no login logged');
});
