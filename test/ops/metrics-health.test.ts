// The ops HTTP listener against a real proxy: /metrics moves when logins happen (scraped
// before and after), /healthz and /readyz answer, and readiness flips during shutdown.
import t from 'tap';
import { eventually, startProxy } from '../harness/proxy.js';
import { RawClient, xoauth2 } from '../harness/raw-imap.js';
import { startStack } from '../harness/stack.js';

const { backend, idp, proxy, ca, alice } = await startStack(t);
const base = `http://127.0.0.1:${proxy.server.port('http')}`;

async function get(path: string): Promise<{ status: number; text: string }> {
  const res = await fetch(base + path, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, text: await res.text() };
}

/** The value of one sample, e.g. value(text, 'oauth2_mail_proxy_logins_total', {result: 'ok'}); 0 when absent. */
function value(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z0-9_:]+)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(m[3]);
  }
  return sum;
}

async function login(): Promise<RawClient> {
  const c = await RawClient.connect(proxy.imapsPort, { implicitTls: true, ca });
  await c.line();
  const r = await c.command(`a1 AUTHENTICATE XOAUTH2 ${xoauth2(alice.email, await idp.mintToken(alice.email))}`);
  if (!/^a1 OK/.test(r.tagged)) throw new Error(r.tagged);
  return c;
}

t.test('/healthz and /readyz answer; unknown paths are 404', async (t) => {
  t.equal((await get('/healthz')).status, 200);
  const ready = await get('/readyz');
  t.equal(ready.status, 200, ready.text);
  const body = JSON.parse(ready.text) as { ready: boolean; checks: Array<{ name: string; ok: boolean }> };
  t.equal(body.ready, true);
  t.same(body.checks.map((c) => c.name).sort(), ['backend', 'idp', 'listeners']);
  t.equal(value((await get('/metrics')).text, 'oauth2_mail_proxy_ready'), 1, 'the ready gauge says so too');
  t.equal((await get('/nope')).status, 404);
});

t.test('refused connections are counted by reason', async (t) => {
  const tight = await startProxy({ backend, userinfoUrl: idp.userinfoUrl, env: { MAX_CONNECTIONS_PER_IP: '1' } });
  t.teardown(() => tight.stop());
  const refused = async () => value((await get('/metrics')).text, 'oauth2_mail_proxy_connections_refused_total', { reason: 'per-ip' });
  const before = await refused();
  const first = await RawClient.connect(tight.imapPort);
  t.teardown(() => first.close());
  t.match(await first.line(), /^\* OK /);
  const second = await RawClient.connect(tight.imapPort);
  t.teardown(() => second.close());
  t.match(await second.line(), /^\* BYE /, 'the second connection from the IP is refused');
  t.equal(await refused() - before, 1, 'counted as per-ip');
  // A client hammering at its limit: every refusal counted, one line in the log (a SYN
  // each must not buy the client a warn line each: REFUSAL_LOG_WINDOW_MS).
  for (let i = 0; i < 60; i++) {
    const more = await RawClient.connect(tight.imapPort);
    await more.line();
    more.close();
  }
  t.equal(await refused() - before, 61, 'the 60 more counted');
  const lines = tight.logs().filter((l) => l.event === 'connection-refused');
  t.equal(lines.length, 1, 'one connection-refused line for the 61');
  t.match(lines[0], { reason: 'per-ip', client: '127.0.0.1' });
  t.notOk('suppressed' in (lines[0] ?? {}), 'the first line carries no count');
});

t.test('metrics move when logins happen', async (t) => {
  const before = (await get('/metrics')).text;
  t.match(before, /# TYPE oauth2_mail_proxy_logins_total counter/);
  const c = await login();
  const bad = await RawClient.connect(proxy.imapsPort, { implicitTls: true, ca });
  await bad.line();
  t.match((await bad.command(`b1 LOGIN ${alice.email} "wrong-password"`)).tagged, /^b1 NO/);
  bad.close();
  const during = (await get('/metrics')).text;
  const ok = { protocol: 'imap', mechanism: 'XOAUTH2', result: 'ok' };
  t.equal(value(during, 'oauth2_mail_proxy_logins_total', ok) - value(before, 'oauth2_mail_proxy_logins_total', ok), 1, 'one more XOAUTH2 login ok');
  t.equal(value(during, 'oauth2_mail_proxy_logins_total', { protocol: 'imap', result: 'failed' }) - value(before, 'oauth2_mail_proxy_logins_total', { protocol: 'imap', result: 'failed' }), 1, 'one more failed login');
  t.ok(value(during, 'oauth2_mail_proxy_sessions_active', { protocol: 'imap' }) >= 1, 'an active IMAP session');
  t.ok(value(during, 'oauth2_mail_proxy_idp_request_duration_seconds_count') > value(before, 'oauth2_mail_proxy_idp_request_duration_seconds_count'), 'IdP latency observed');
  t.ok(value(during, 'oauth2_mail_proxy_backend_login_duration_seconds_count', { protocol: 'imap' }) > value(before, 'oauth2_mail_proxy_backend_login_duration_seconds_count', { protocol: 'imap' }), 'backend login latency observed');
  t.ok(value(during, 'oauth2_mail_proxy_tls_certificate_expiry_timestamp_seconds', { name: 'default' }) > Date.now() / 1000, 'certificate expiry exported');
  await c.command('a2 NOOP');
  await c.command('a3 LOGOUT');
  c.close();
  await eventually(async () => value((await get('/metrics')).text, 'oauth2_mail_proxy_spliced_bytes_total', { protocol: 'imap', direction: 'to_client' }) > value(before, 'oauth2_mail_proxy_spliced_bytes_total', { protocol: 'imap', direction: 'to_client' }), 5000, 'spliced bytes counted');
  t.pass('spliced bytes counted when the session ended');
});

t.test('readiness flips to 503 as soon as shutdown starts; listeners stop accepting', async (t) => {
  const c = await login();
  c.write('i1 IDLE\r\n');
  t.match(await c.line(), /^\+ /);
  const shutdown = proxy.server.shutdown(10_000);
  const ready = await get('/readyz');
  t.equal(ready.status, 503, 'not ready while draining');
  t.match(ready.text, /shutting down/);
  t.equal(value((await get('/metrics')).text, 'oauth2_mail_proxy_ready'), 0, 'the ready gauge is 0');
  t.equal((await get('/healthz')).status, 200, 'still alive while draining');
  await t.rejects(RawClient.connect(proxy.imapsPort, { implicitTls: true, ca }), 'no new connections');
  t.match(await c.lineAfterKeepalives(3000), /^\* BYE /, 'IDLE gets * BYE');
  await shutdown;
});
