// What actually arrived: Message-IDs read from the Dovecot maildir files (new/ and cur/),
// Postfix's queue state, and an inbound message through the backend's port 25.
import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Backend } from '../../harness/backend.js';
import { RawSmtp } from '../../harness/raw-smtp.js';

const run = promisify(execFile);

function maildir(backend: Pick<Backend, 'dir'>, email: string): string {
  const [local, domain] = email.split('@') as [string, string];
  return join(backend.dir, 'mail', domain, local, 'Maildir');
}

/** Message-ID → number of copies in `email`'s INBOX. */
export async function deliveredIds(backend: Pick<Backend, 'dir'>, email: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const sub of ['new', 'cur']) {
    const d = join(maildir(backend, email), sub);
    const files = await readdir(d).catch(() => [] as string[]);
    for (const f of files) {
      const text = await readFile(join(d, f), 'latin1').catch(() => '');
      const head = text.slice(0, text.indexOf('\r\n\r\n') >= 0 ? text.indexOf('\r\n\r\n') : text.indexOf('\n\n'));
      const id = /^Message-ID:\s*<([^>]+)>/im.exec(head)?.[1];
      if (id) out.set(id, (out.get(id) ?? 0) + 1);
    }
  }
  return out;
}

const configDir = (backend: Pick<Backend, 'dir'>): string => join(backend.dir, 'postfix', 'etc');

/** True when Postfix's queue holds nothing (incoming, active, deferred). */
export async function queueEmpty(backend: Pick<Backend, 'dir'>): Promise<boolean> {
  const { stdout } = await run('postqueue', ['-c', configDir(backend), '-p']).catch((e: { stdout?: string }) => ({ stdout: e.stdout ?? '' }));
  return /Mail queue is empty/.test(stdout);
}

/**
 * Waits (bounded) until the queue is empty and the maildirs stopped changing, flushing
 * deferred mail now and then: mail deferred while Postfix restarted would otherwise wait
 * for the next queue run (minutes).
 */
export async function settleDelivery(backend: Pick<Backend, 'dir'>, emails: string[], timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  let stableSince = Date.now();
  for (let i = 0; Date.now() < deadline; i++) {
    if (i % 10 === 0) await run('postqueue', ['-c', configDir(backend), '-f']).catch(() => undefined);
    const counts = await Promise.all(emails.map(async (e) => [...(await deliveredIds(backend, e)).values()].reduce((a, b) => a + b, 0)));
    const now = counts.join(',');
    if (now !== last) { last = now; stableSince = Date.now(); }
    if (Date.now() - stableSince >= 2000 && await queueEmpty(backend)) return;
    await sleep(250);
  }
  throw new Error(`delivery did not settle within ${timeoutMs} ms (queue empty: ${await queueEmpty(backend)})`);
}

/** A message to `to` straight into the backend's port 25 (no proxy, no auth). */
export async function sendInbound(backend: Pick<Backend, 'smtpPort'>, to: string, subject: string): Promise<void> {
  const c = await RawSmtp.connect(backend.smtpPort);
  try {
    await c.reply();
    await c.ehlo();
    for (const [cmd, want] of [[`MAIL FROM:<sender@outside.test>`, 250], [`RCPT TO:<${to}>`, 250], ['DATA', 354]] as const) {
      const r = await c.command(cmd);
      if (r.code !== want) throw new Error(`${cmd}: ${r.raw}`);
    }
    const r = await c.command(`From: <sender@outside.test>\r\nTo: <${to}>\r\nSubject: ${subject}\r\n\r\nwake up\r\n.`, 10_000);
    if (r.code !== 250) throw new Error(`end of data: ${r.raw}`);
  } finally {
    await c.quit();
  }
}
