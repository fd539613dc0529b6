// IdP faults (issue 7): refused, hanging past the timeout, slow but in time, 500, 429, a body
// that is not JSON, a 10 MB body, an untrusted TLS certificate. Each case: the protocol
// reply IMAP and SMTP clients must get, no crash, no unhandled rejection, and the process
// has no more open descriptors after the proxy is stopped than before it was started.
import t from 'tap';
import { deadPort } from '../harness/ports.js';
import { startBackend } from '../harness/backend.js';
import { startProxy, type TestProxy } from '../harness/proxy.js';
import { fdCount, fdSummary, recordCrashes, settleFds } from './fakes/leaks.js';
import { startFakeIdp, type FakeIdp, type IdpBehaviour } from './fakes/idp.js';
import { imaps, imapTokenLogin, opaqueToken, smtps, smtpTokenLogin } from './fakes/clients.js';

const crashes = recordCrashes();
t.teardown(() => crashes.dispose());
const backend = await startBackend();
t.teardown(() => backend.stop());
const [alice] = backend.users as [typeof backend.users[0]];
const TIMEOUT_MS = 1000;

interface Case {
  name: string;
  /** A fake IdP, or none: the URL points at a closed port. */
  idp?: { behaviour: IdpBehaviour; https?: boolean };
  imap: RegExp;
  smtp: number;
  /** What the proxy's log must say about it (auth-unavailable reason). */
  reason?: RegExp;
  /** Bounds on how long the IMAP login took, ms. */
  took?: [number, number];
}

const cases: Case[] = [
  { name: 'connection refused', imap: /^a1 NO \[UNAVAILABLE\]/, smtp: 454, reason: /ECONNREFUSED/ },
  { name: 'hangs past the timeout', idp: { behaviour: { kind: 'hang' } }, imap: /^a1 NO \[UNAVAILABLE\]/, smtp: 454, reason: /within 1000 ms/, took: [TIMEOUT_MS - 50, TIMEOUT_MS + 1500] },
  { name: 'answers slowly but in time', idp: { behaviour: { kind: 'ok', email: alice.email, delayMs: 600 } }, imap: /^a1 OK \[CAPABILITY /, smtp: 235, took: [550, TIMEOUT_MS + 1500] },
  { name: '500', idp: { behaviour: { kind: 'status', status: 500 } }, imap: /^a1 NO \[UNAVAILABLE\]/, smtp: 454, reason: /answered 500/ },
  { name: '429', idp: { behaviour: { kind: 'status', status: 429 } }, imap: /^a1 NO \[UNAVAILABLE\]/, smtp: 454, reason: /answered 429/ },
  { name: 'invalid JSON', idp: { behaviour: { kind: 'invalid-json' } }, imap: /^a1 NO \[UNAVAILABLE\]/, smtp: 454, reason: /not a JSON object/ },
  { name: 'a 10 MB body', idp: { behaviour: { kind: 'huge', bytes: 10 * 1024 * 1024 } }, imap: /^a1 NO \[UNAVAILABLE\]/, smtp: 454, reason: /larger than/ },
  { name: 'TLS certificate error', idp: { behaviour: { kind: 'ok', email: alice.email }, https: true }, imap: /^a1 NO \[UNAVAILABLE\]/, smtp: 454, reason: /SELF_SIGNED|CERT/ },
];

async function closedPortUrl(): Promise<string> {
  return `http://127.0.0.1:${await deadPort()}/userinfo`;
}

for (const c of cases) {
  t.test(`IdP ${c.name}`, async (t) => {
    const fd0 = await settleFds(fdCount(), 500);
    let idp: FakeIdp | undefined;
    let proxy: TestProxy | undefined;
    try {
      idp = c.idp ? await startFakeIdp(c.idp.behaviour, { https: c.idp.https }) : undefined;
      proxy = await startProxy({ backend, userinfoUrl: idp?.url ?? await closedPortUrl(), env: { OAUTH2_TIMEOUT_MS: String(TIMEOUT_MS) } });

      const ic = await imaps(proxy);
      const started = Date.now();
      const tagged = await imapTokenLogin(ic, alice.email, opaqueToken());
      const took = Date.now() - started;
      t.match(tagged, c.imap, `IMAP: ${tagged}`);
      if (c.took) t.ok(took >= c.took[0] && took <= c.took[1], `IMAP answered after ${took} ms (expected ${c.took[0]}..${c.took[1]})`);
      if (/OK/.test(tagged)) {
        t.match((await ic.command('a2 NOOP')).tagged, /^a2 OK/, 'the spliced session works');
      } else {
        t.match((await ic.command('a2 NOOP')).tagged, /^a2 OK/, 'the session goes on after the temporary failure');
      }
      ic.close();

      const sc = await smtps(proxy);
      const r = await smtpTokenLogin(sc, alice.email, opaqueToken());
      t.equal(r.code, c.smtp, `SMTP: ${r.code} ${r.text}`);
      if (r.code === 454) t.match(r.text, /^4\.7\.0 /, 'enhanced status 4.7.0');
      await sc.quit();

      if (c.reason) {
        const reasons = proxy.logs().filter((l) => l.event === 'auth-unavailable').map((l) => String(l.reason));
        t.ok(reasons.length >= 2, 'one auth-unavailable line per login');
        t.ok(reasons.every((r) => c.reason!.test(r)), `logged why: ${reasons[0]}`);
      }
      if (c.idp?.behaviour.kind === 'huge') t.ok(idp!.requests >= 1, 'the IdP was asked');
    } finally {
      await proxy?.stop();
      await idp?.stop();
    }
    const fd1 = await settleFds(fd0);
    t.ok(fd1 <= fd0, `no descriptor leaked (${fd0} before, ${fd1} after; ${fdSummary()})`);
  });
}

t.test('no unhandled rejection or uncaught exception', async (t) => {
  t.equal(crashes.describe(), '', 'none fired');
});
