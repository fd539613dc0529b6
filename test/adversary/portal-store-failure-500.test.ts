// An app-password store that cannot answer is an outage, not a bug in the portal. The state
// file broken by a hand edit (the proxy keeps logging in with the last good copy), its lock
// held by another process, or the shared store not answering app-password calls: the portal
// answered POST /create (and /revoke, and the page itself) with a 500 "Something went wrong
// on our side" and logged an `internal-error`, counted in internal_errors_total, which the
// docs keep for bugs (security.md) and alerts watch. What the portal says when its session
// store does not answer (a 503 page, "try again", retry-after) is what it must say here.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PortalSessions } from '../../src/portal/sessions.js';
import { AppPasswordsUnavailableError, type AppPasswordStore } from '../../src/auth/app-passwords.js';
import { AppPasswordFile } from '../../src/state/app-password-file.js';
import { captureLog, portalForm, startTestPortal } from '../harness/portal-listener.js';
import { rawHttps } from '../harness/raw-http.js';

const dir = mkdtempSync(join(tmpdir(), 'o2mp-portal-store-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const { log, lines } = captureLog();

async function portal(store: AppPasswordStore) {
  const sessions = new PortalSessions(60_000);
  const { port } = await startTestPortal(t, { store, sessions, log });
  const sid = sessions.start('alice@example.test');
  const csrf = sessions.get(sid)!.csrf;
  const request = async (method: string, path: string, body = ''): Promise<{ status: number; text: string }> => {
    // 15 s: past LOCK_WAIT_MS, which a create behind a held lock waits out before its 503.
    const { text } = await rawHttps(port, portalForm(method, path, sid, body), 15_000);
    return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]), text };
  };
  return { request, csrf };
}

const internalErrors = () => lines.filter((l) => l.event === 'internal-error');

t.test('the state file broken by hand: making an app password is a 503 "try again", no internal error', async (t) => {
  const file = join(dir, 'app-passwords.json');
  const store = await AppPasswordFile.open(file);
  t.teardown(() => store.close());
  const { request, csrf } = await portal(store);
  t.equal((await request('POST', '/create', `csrf=${csrf}&label=Phone`)).status, 200, 'made while the file is good');
  writeFileSync(file, '{ "version": 1, "passwords": [ oops');
  const before = internalErrors().length;
  const made = await request('POST', '/create', `csrf=${csrf}&label=Laptop`);
  t.equal(made.status, 503, 'a store outage, not a server bug');
  t.match(made.text, /try again/i);
  t.notMatch(made.text, /app-passwords\.json/, 'no file path on the page');
  t.equal(internalErrors().length - before, 0, 'no internal-error line');
});

t.test('the shared store does not answer app-password calls: the page and every change are a 503, no internal error', async (t) => {
  const down = async (): Promise<never> => { throw new AppPasswordsUnavailableError('app-password-list: the store does not answer'); };
  const store: AppPasswordStore = { list: down, create: down, revoke: down, used: () => undefined, close: async () => undefined, onRevoked: () => () => undefined };
  const { request, csrf } = await portal(store);
  const before = internalErrors().length;
  t.equal((await request('GET', '/')).status, 503, 'the page');
  t.equal((await request('POST', '/create', `csrf=${csrf}&label=Phone`)).status, 503, 'create');
  t.equal((await request('POST', '/revoke', `csrf=${csrf}&id=1b4e28ba-2fa1-11d2-883f-0016d3cca427`)).status, 503, 'revoke');
  t.equal(internalErrors().length - before, 0, 'no internal-error line');
});

t.test('the state file\'s lock held by another process past LOCK_WAIT_MS: a 503 "try again", no internal error', async (t) => {
  const file = join(dir, 'locked-app-passwords.json');
  const store = await AppPasswordFile.open(file);
  t.teardown(() => store.close());
  const { request, csrf } = await portal(store);
  // Another process's lock (the admin CLI mid-change), kept fresh so it is never taken for stale.
  writeFileSync(`${file}.lock`, '');
  const fresh = setInterval(() => writeFileSync(`${file}.lock`, ''), 1000);
  t.teardown(() => { clearInterval(fresh); rmSync(`${file}.lock`, { force: true }); });
  const before = internalErrors().length;
  const made = await request('POST', '/create', `csrf=${csrf}&label=Tablet`);
  t.equal(made.status, 503, 'a busy store, not a server bug');
  t.match(made.text, /try again/i);
  t.equal(internalErrors().length - before, 0, 'no internal-error line');
});
