// Adversary (operator's path): `doctor --user` is what the README sends an operator to when a
// login fails, and it checked the DMS ports and master logins of IMAP and submission only. With
// the POP3 or ManageSieve front on (LISTEN_POP3/LISTEN_POP3S, LISTEN_MANAGESIEVE), their backend
// leg can be wrong while IMAP's is right, and on DMS with Dovecot 2.4 it easily is: a POP3 leg in
// the clear (DMS_POP3_TLS=none) is refused for want of TLS, a ManageSieve leg with a PROXY header
// and STARTTLS is refused STARTTLS (2.4 takes the header's TLS flag as TLS already active), a DMS
// without ENABLE_POP3=1 has no port 110 at all. doctor said "all checks passed" (exit 0) for each,
// while every POP3 or ManageSieve login failed and /readyz, which does probe those ports, said not
// ready. It must check what the proxy will do: the ports and the master logins of every front on.
import t from 'tap';
import { startDovecot24BackendAndIdp } from '../harness/stack.js';
import { doctorAgainst } from '../harness/doctor.js';

// On 127.0.0.2, as DMS in its own container: Dovecot 2.4 counts the proxy's leg as secured only over TLS.
const stack = await startDovecot24BackendAndIdp(t);
if (stack) await suite(stack);

async function suite({ backend, idp }: NonNullable<typeof stack>): Promise<void> {
  const doctor = await doctorAgainst(t, backend, idp);

  t.test('a good setup: POP3 and ManageSieve master logins are checked and pass', async (t) => {
    const r = await doctor({});
    t.equal(r.code, 0, r.out);
    t.match(r.out, /^\[ OK \] POP3 master login as alice@example\.test/m);
    t.match(r.out, /^\[ OK \] ManageSieve master login as alice@example\.test/m);
  });

  t.test('DMS_POP3_TLS=none towards Dovecot 2.4: doctor fails and names the setting', async (t) => {
    const r = await doctor({ DMS_POP3_TLS: 'none' });
    t.equal(r.code, 1, r.out);
    t.match(r.out, /^\[FAIL\] POP3 master login as alice@example\.test: .*DMS_POP3_TLS/m);
  });

  t.test('ManageSieve with a PROXY header and STARTTLS towards Dovecot 2.4: doctor fails', async (t) => {
    const r = await doctor({ DMS_MANAGESIEVE_PROXY_PROTOCOL: '1', DMS_MANAGESIEVE_PORT: String(backend.managesieveHaproxyPort) });
    t.equal(r.code, 1, r.out);
    t.match(r.out, /^\[FAIL\] ManageSieve master login as alice@example\.test: /m);
  });

  t.test('no POP3 at DMS_POP3_PORT (DMS without ENABLE_POP3=1): doctor fails the reachability check', async (t) => {
    const r = await doctor({ DMS_POP3_PORT: '1' });
    t.equal(r.code, 1, r.out);
    t.match(r.out, /^\[FAIL\] DMS POP3 reachable: /m);
  });
}
