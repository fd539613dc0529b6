// Signing out of a session that has already ended (expired, ended elsewhere, the portal
// restarted): the browser still holds the session cookie and the page's sign-out form. That
// POST /logout was a 403 "Signed out" page that left the dead cookie in place, so every later
// visit carried it. Sign-out needs no live session: it ends whatever there is and clears the
// cookie (a cross-site POST is still refused by the origin check).
import t from 'tap';
import { PortalSessions } from '../../src/portal/sessions.js';
import { PORTAL_ORIGIN as ORIGIN, portalForm, startTestPortal } from '../harness/portal-listener.js';
import { rawHttps } from '../harness/raw-http.js';

const sessions = new PortalSessions(60_000);
const { port } = await startTestPortal(t, { sessions });

async function post(path: string, sid: string, origin: string, body: string): Promise<string> {
  return (await rawHttps(port, portalForm('POST', path, sid, body, origin))).text;
}

t.test('POST /logout with a session that has ended: back to the start page, the cookie cleared', async (t) => {
  const sid = sessions.start('alice@example.test');
  const csrf = sessions.get(sid)!.csrf;
  await sessions.end(sid); // expired or ended elsewhere; the browser still has the page
  const text = await post('/logout', sid, ORIGIN, `csrf=${csrf}`);
  t.match(text, /^HTTP\/1\.1 303 /, 'a redirect, not a 403 page');
  t.match(text, /\r\nlocation: \/\r\n/i, 'to the start page');
  t.match(text, /set-cookie: __Host-omp-session=x+;[^\r]*Max-Age=0/i, 'the dead cookie cleared');
});

t.test('a cross-site POST /logout is still refused', async (t) => {
  const text = await post('/logout', 'A'.repeat(43), 'https://evil.example', 'csrf=x');
  t.match(text, /^HTTP\/1\.1 403 /);
  t.notMatch(text, /set-cookie: __Host-omp-session/i);
});

t.test('POST /create with a session that has ended is still a 403', async (t) => {
  const text = await post('/create', 'A'.repeat(43), ORIGIN, 'csrf=x&label=Phone');
  t.match(text, /^HTTP\/1\.1 403 /);
});
