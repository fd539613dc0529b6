// Adversary (operator's path): DMS's Dovecot does not count the proxy's address in
// login_trusted_networks (the override file left behind when DMS moved to Dovecot 2.4, whose
// override is another file, or the proxy's address changed). Logins still work, but Dovecot then
// ignores the client's address: every session, auth penalty and Fail2Ban line is the proxy's, so
// a few failed logins have DMS's Fail2Ban ban the proxy, i.e. every user. For POP3 and ManageSieve
// Dovecot says so before any login: its pop3 greeting lacks `[XCLIENT]` and its ManageSieve
// capabilities lack `XCLIENT`. The proxy then silently logged in without the client's address,
// and doctor said "all checks passed". doctor must say that Dovecot does not trust the proxy.
import t from 'tap';
import { startDovecot24BackendAndIdp } from '../harness/stack.js';
import { doctorAgainst } from '../harness/doctor.js';

// login_trusted_networks names no address of the proxy's (the last setting wins in Dovecot's config).
const stack = await startDovecot24BackendAndIdp(t, { dovecotConf: 'login_trusted_networks = 192.0.2.0/24\n' });
if (stack) await suite(stack);

async function suite({ backend, idp }: NonNullable<typeof stack>): Promise<void> {
  const doctor = await doctorAgainst(t, backend, idp);

  t.test('Dovecot does not trust the proxy: doctor says so for POP3 and ManageSieve, naming login_trusted_networks', async (t) => {
    const r = await doctor();
    t.not(r.code, 0, r.out);
    t.match(r.out, /^\[(WARN|FAIL)\] POP3 master login as [^:]+: .*login_trusted_networks/m);
    t.match(r.out, /^\[(WARN|FAIL)\] ManageSieve master login as [^:]+: .*login_trusted_networks/m);
  });

  t.test('behind PROXY protocol the trust is haproxy_trusted_networks: no such line', async (t) => {
    const r = await doctor({
      DMS_POP3_PROXY_PROTOCOL: '1', DMS_POP3_TLS: 'none', DMS_POP3_PORT: String(backend.pop3HaproxyPort),
      DMS_MANAGESIEVE_PROXY_PROTOCOL: '1', DMS_MANAGESIEVE_TLS: 'none', DMS_MANAGESIEVE_PORT: String(backend.managesieveHaproxyPort),
    });
    t.equal(r.code, 0, r.out);
    t.notMatch(r.out, /login_trusted_networks/);
  });
}
