// DMS_TLS=none (the proxy and DMS on one private network): the splice reads Dovecot into
// reused buffers (src/net/reused-reads.ts). Large messages fetched by several clients at
// once, over STARTTLS and implicit TLS, must arrive byte for byte.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { ImapFlow } from 'imapflow';
import { startStack } from '../harness/stack.js';

const { proxy, idp, ca, alice, bob } = await startStack(t, { proxyEnv: { DMS_TLS: 'none' } });

function flow(user: string, token: string, secure: boolean): ImapFlow {
  return new ImapFlow({
    host: '127.0.0.1',
    port: secure ? proxy.imapsPort : proxy.imapPort,
    secure,
    doSTARTTLS: secure ? undefined : true,
    tls: { ca, servername: 'localhost' },
    auth: { user, accessToken: token },
    logger: false,
    disableAutoIdle: true,
  });
}

function message(from: string, kib: number): Buffer {
  const body = randomBytes(kib * 768).toString('base64').replace(/.{76}/g, '$&\r\n');
  return Buffer.from(`From: ${from}\r\nTo: ${from}\r\nSubject: plain ${randomBytes(6).toString('hex')}\r\n\r\n${body}\r\n`);
}

t.test('several clients fetch large messages at once, byte for byte', async (t) => {
  const users = [alice, bob, alice, bob, alice, bob];
  const clients = await Promise.all(users.map(async (u, i) => {
    const c = flow(u.email, await idp.mintToken(u.email), i % 2 === 0);
    await c.connect();
    t.teardown(() => c.close());
    return c;
  }));
  // Each client appends its own messages (sizes from 1 KiB to 3 MiB), then all fetch at once.
  const sizes = [1, 300, 3072];
  const sent = await Promise.all(clients.map(async (c, i) => {
    const ms = sizes.map((k) => message(users[i]!.email, k + i));
    const uids: number[] = [];
    for (const m of ms) uids.push((await c.append('INBOX', m) as { uid: number }).uid);
    return { ms, uids };
  }));
  await Promise.all(clients.map(async (c, i) => {
    await c.mailboxOpen('INBOX');
    const { ms, uids } = sent[i]!;
    for (let round = 0; round < 2; round++) {
      const got = new Map<number, Buffer>();
      for await (const m of c.fetch(uids.join(','), { source: true }, { uid: true })) got.set(m.uid, m.source!);
      for (let k = 0; k < uids.length; k++) {
        t.ok(got.get(uids[k]!)?.equals(ms[k]!), `client ${i}, round ${round}: ${ms[k]!.length} bytes intact`);
      }
    }
    await c.logout();
  }));
});
