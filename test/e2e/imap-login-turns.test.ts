// Issue 21: the common IMAP login (a decided token or a password, Dovecot over plaintext,
// DMS_TLS=none) runs from the client's command to its tagged OK with no promise in the proxy:
// the login flow settles the session as a callback, the backend login is one object driven by
// its socket. Counted with async_hooks from the client's write to its read of the OK; the
// client here is a raw socket with callbacks only, so every promise counted is the proxy's.
// Real Dovecot, real IdP (the token's first login asks it; the second is decided from the cache).
import t from 'tap';
import net from 'node:net';
import { createHook } from 'node:async_hooks';
import { startStack } from '../harness/stack.js';

// No submission listeners: their start-up probe of Postfix's EHLO runs in the background and,
// on a loaded machine, its promises fell into the counted window.
const { proxy, idp, alice } = await startStack(t, { proxyEnv: { DMS_TLS: 'none', ALLOW_PLAINTEXT_AUTH: '1', LISTEN_SUBMISSION: '', LISTEN_SUBMISSIONS: '' } });

let counting = false;
let made = 0;
let ran = 0;
// Only the proxy's promises: the IdP (oidc-provider) and undici's keep-alive work left from the
// first login run in this process too, and on a loaded machine they fall into the window. A
// promise is the proxy's when a frame of its creation stack is in src/ (the proxy calling undici
// counts: its frames are below the proxy's).
const SRC = new URL('../../src/', import.meta.url).pathname;
const proxyPromises = new Set<number>();
const hook = createHook({
  init(id, type) {
    if (type !== 'PROMISE' || !counting) return;
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 100;
    const stack = new Error().stack ?? '';
    Error.stackTraceLimit = limit;
    if (!stack.includes(SRC)) return;
    proxyPromises.add(id);
    made += 1;
  },
  before(id) { if (counting && proxyPromises.has(id)) ran += 1; },
});

/** Connects, waits for the greeting, writes `command` (counted when `count`); resolves with the reply line. */
function loginOnce(command: string, count: boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.connect(proxy.imapPort, '127.0.0.1');
    const timer = setTimeout(() => { c.destroy(); reject(new Error('no reply in 10 s')); }, 10_000);
    let buf = '';
    let sent = false;
    c.setEncoding('latin1');
    c.on('error', reject);
    c.on('data', (d: string) => {
      buf += d;
      const lf = buf.indexOf('\r\n');
      if (lf < 0) return;
      if (!sent) {
        buf = buf.slice(lf + 2);
        sent = true;
        counting = count;
        c.write(`${command}\r\n`);
        return;
      }
      // The proxy wrote its OK in an earlier turn; its setImmediate (the login's log line and
      // bookkeeping) ran before this read.
      counting = false;
      clearTimeout(timer);
      c.destroy();
      resolve(buf.slice(0, lf));
    });
  });
}

const bearer = (user: string, token: string): string => Buffer.from(`n,a=${user},\x01auth=Bearer ${token}\x01\x01`).toString('base64');

t.test('AUTHENTICATE OAUTHBEARER with SASL-IR, the token decided from the cache: no promise from the command to the OK', async (t) => {
  const ir = bearer(alice.email, await idp.mintToken(alice.email));
  t.match(await loginOnce(`a AUTHENTICATE OAUTHBEARER ${ir}`, false), /^a OK /, 'first login (asks the IdP)');
  made = ran = 0;
  hook.enable();
  try {
    t.match(await loginOnce(`a AUTHENTICATE OAUTHBEARER ${ir}`, true), /^a OK \[CAPABILITY /, 'logged in from the cache');
  } finally {
    hook.disable();
  }
  t.equal(made, 0, 'promises made in the proxy');
  t.equal(ran, 0, 'promise reactions run in the proxy');
});

t.test('LOGIN with a password (passed through to Dovecot): no promise from the command to the OK', async (t) => {
  made = ran = 0;
  hook.enable();
  try {
    t.match(await loginOnce(`b LOGIN "${alice.email}" "${alice.password}"`, true), /^b OK \[CAPABILITY /, 'logged in');
  } finally {
    hook.disable();
  }
  t.equal(made, 0, 'promises made in the proxy');
  t.equal(ran, 0, 'promise reactions run in the proxy');
});
