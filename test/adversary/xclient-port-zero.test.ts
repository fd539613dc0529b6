// Adversary: behind a balancer the client's address and port come from the PROXY header, and
// a header may carry source port 0 (a balancer that does not know it, a v1 header written by
// hand in a health script, some SaaS load balancers). The IMAP front leaves a port of 0 out of
// what it tells Dovecot; the POP3 and ManageSieve fronts sent `XCLIENT ... PORT=0`, which
// Dovecot refuses (pop3-login: "-ERR Invalid parameters"; managesieve-login: "NO Error in
// MANAGESIEVE command"), so every login of such a client failed, reported as DMS being
// unavailable. A port that is no port is left out; the address still goes to Dovecot.
// (Submission is here too: Postfix takes XCLIENT PORT=0, and must go on doing so.)
import t from 'tap';
import { b64 } from '../harness/raw-imap.js';
import { RawPop3 } from '../harness/raw-pop3.js';
import { RawSieve } from '../harness/raw-sieve.js';
import { RawSmtp } from '../harness/raw-smtp.js';
import { startStack } from '../harness/stack.js';

const { proxy, ca, alice } = await startStack(t, {
  proxyEnv: { PROXY_PROTOCOL_TRUSTED_NETWORKS: '127.0.0.0/8', LISTEN_POP3S: '127.0.0.1:0', LISTEN_MANAGESIEVE: '127.0.0.1:0' },
});
const header = (port: number, local: number): Buffer => Buffer.from(`PROXY TCP4 192.0.2.77 127.0.0.1 ${port} ${local}\r\n`);

for (const port of [40001, 0]) {
  t.test(`POP3 (995) behind a balancer, client source port ${port}: alice logs in`, async (t) => {
    const c = await RawPop3.connect(proxy.server.port('pop3s'), { implicitTls: true, ca, preamble: header(port, 995) });
    t.teardown(() => c.close());
    t.match(await c.line(), /^\+OK/);
    t.match(await c.command(`AUTH PLAIN ${b64(`\0${alice.email}\0${alice.password}`)}`, 10_000), /^\+OK/, 'logged in');
    t.match(await c.command('QUIT'), /^\+OK/);
  });

  t.test(`submission (465) behind a balancer, client source port ${port}: alice logs in`, async (t) => {
    const c = await RawSmtp.connect(proxy.submissionsPort, { implicitTls: true, ca, preamble: header(port, 465) });
    t.teardown(() => c.close());
    t.equal((await c.reply()).code, 220);
    t.equal((await c.ehlo()).code, 250);
    t.equal((await c.command(`AUTH PLAIN ${b64(`\0${alice.email}\0${alice.password}`)}`, 10_000)).code, 235, 'logged in');
    await c.quit();
  });

  t.test(`ManageSieve behind a balancer, client source port ${port}: alice logs in`, async (t) => {
    const c = await RawSieve.connect(proxy.managesievePort, { preamble: header(port, 4190) });
    t.teardown(() => c.close());
    await c.response();
    await c.startTls(ca);
    t.match((await c.command(`AUTHENTICATE "PLAIN" "${b64(`\0${alice.email}\0${alice.password}`)}"`, 10_000)).response, /^OK/, 'logged in');
  });
}
